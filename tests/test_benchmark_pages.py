"""Benchmark pages: medians with their spread, failures with their reason, the load tool's
ceiling, one machine per table, and the public benchmarks.json; all from SYNTHETIC data."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from evidence.schema import SCHEMA_VERSION
from evidence.validation import load_evidence
from evidence.vocabulary import SCENARIOS
from generators.benchmarks.cells import value_cell
from generators.benchmarks.figure import Figure
from generators.charts import BAR_CHART_WIDTH, Bar, _nice_ceiling, horizontal_bars
from generators.render import render_pages
from harness.benchmarks.settings import BENCHMARK_SETTINGS
from harness.validate import validate
from tests import synthetic

OTHER_MACHINE = "second-test-machine"
OLD_CAPTURE = "20251201T000000Z"
TLS_FAILURE = "the TLS variant did not start: certificate refused by the server"


def _locust_upstream(
    latency_min_ms: float, failed_at_100_users: float = 25.0, variant: str | None = None
) -> dict:
    metrics = synthetic.locust_metrics({10: 0.0, 50: 0.0, 100: failed_at_100_users}, 40.0)
    metrics["latency_min_ms"] = latency_min_ms
    params = {"tool": "locust", "endpoint": "x"} | ({"variant": variant} if variant else {})
    figure = "upstream_async" + (f", {variant}" if variant else "")
    return synthetic.figure("locust-upstream", figure, params, [metrics] * 3)


def benchmark_data(root: Path, http11_ceiling: float = 10_000.0) -> Path:
    """Two machines. On the first, a calibration (h2load http/1.1 and h2+tls ceilings), Uvicorn
    above half of both and Gunicorn below with a wide spread and a failed figure; on the second,
    Uvicorn with no calibration. An older capture of Uvicorn must not show."""
    runs = [
        synthetic.run("uvicorn", name="Uvicorn", interface="asgi"),
        synthetic.run("gunicorn-sync", name="Gunicorn sync"),
    ]
    calibration = synthetic.benchmark(
        "calibration",
        [
            synthetic.calibration_figure("h2load", "http/1.1", http11_ceiling),
            synthetic.calibration_figure("h2load", "h2+tls", 8_000.0),
        ],
    )
    uvicorn = synthetic.benchmark(
        "uvicorn",
        [
            synthetic.h2load_figure([900.0, 1_000.0, 1_100.0], clients=1),
            synthetic.h2load_figure([6_100.0, 6_200.0, 6_300.0], clients=200),
            synthetic.h2load_figure([4_400.0, 4_500.0, 4_600.0], protocol="nginx-h2+tls"),
            _locust_upstream(611.0),
        ],
        name="Uvicorn",
    )
    gunicorn = synthetic.benchmark(
        "gunicorn-sync",
        [
            synthetic.h2load_figure([3_000.0, 4_000.0, 5_000.0], clients=200),
            synthetic.h2load_figure([], protocol="h2+tls", failure=TLS_FAILURE),
            _locust_upstream(622.0, failed_at_100_users=37.5),
            _locust_upstream(644.0, failed_at_100_users=12.5, variant="threads-100"),
            synthetic.figure(
                "fixed-rate-latency",
                "json_sync",
                {"tool": "h2load", "protocol": "http/1.1", "endpoint": "json_sync"},
                # Asked for 9,000 (above half the ceiling) but achieved only 3,000.
                [synthetic.h2load_metrics(3_000.0) | {"target_requests_per_s": 9_000.0}] * 3,
            ),
        ],
        name="Gunicorn sync",
        interface="wsgi",
    )
    elsewhere = synthetic.benchmark(
        "uvicorn",
        [synthetic.h2load_figure([7_770.0, 7_777.0, 7_784.0]), _locust_upstream(633.0)],
        name="Uvicorn",
        machine_id=OTHER_MACHINE,
    )
    old = synthetic.benchmark(
        "uvicorn", [synthetic.h2load_figure([99_999.0] * 3)], name="Uvicorn", capture=OLD_CAPTURE
    )
    synthetic.write_data(root, runs, [calibration, uvicorn, gunicorn, elsewhere, old])
    return root


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return render_pages(load_evidence(benchmark_data(tmp_path_factory.mktemp("data"))))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real site, built by mkdocs --strict from the benchmark data."""
    data = benchmark_data(tmp_path_factory.mktemp("data"))
    site = tmp_path_factory.mktemp("site")
    completed = synthetic.build_site(data, site)
    assert completed.returncode == 0, completed.stderr
    return site


def _row(page: str, marker: str, header: str = "|") -> list[str]:
    """The cells of the one Markdown table row containing ``marker``, among the tables whose
    header line starts with ``header``."""
    found, current = [], ""
    for line in page.splitlines():
        if not line.startswith("|"):
            current = ""
            continue
        current = current or line  # the first line of a table is its header
        if line != current and current.startswith(header) and marker in line:
            found.append(line)
    (line,) = found
    return [cell.strip() for cell in line.strip("|").split(" | ")]


def test_the_synthetic_benchmark_data_is_valid(tmp_path: Path) -> None:
    assert validate(benchmark_data(tmp_path)) == []


def test_every_scenario_has_a_page_in_the_build_and_the_navigation(built: Path) -> None:
    index = (built / "benchmarks" / "index.html").read_text()
    for scenario in SCENARIOS:
        assert (built / "benchmarks" / scenario / "index.html").is_file(), scenario
        assert f'href="{scenario}/"' in index
    assert '<a href="benchmarks/" class="md-tabs__link">' in (built / "index.html").read_text()


def test_tables_show_the_median_with_min_max_and_cv(pages: dict[str, str]) -> None:
    page = pages["benchmarks/h2load.md"]
    steady = _row(page, "900–1,100")
    assert steady[3] == "1,000<br><small>900–1,100 · CV 10.0 % · n=3</small>"
    wide = _row(page, "3,000–5,000")
    assert wide[3].startswith("4,000<br><small>3,000–5,000 · CV 25.0 % · n=3</small>")
    assert '<span class="sd-flag">⚠ CV 25.0 % &gt; 10 %</span>' in wide[3]
    assert "sd-flag" not in steady[3]  # a CV of exactly 10 % is not above it


def test_a_failed_figure_shows_its_reason_and_no_number(pages: dict[str, str]) -> None:
    row = _row(pages["benchmarks/h2load.md"], "certificate refused")
    assert row[3].startswith("**failed**: the TLS variant did not start")
    assert set(row[4:]) == {"failed"}
    assert not re.search(r"\d", "".join(row[3:]))
    server_page = pages["servers/gunicorn-sync.md"]
    assert "**failed**: the TLS variant did not start" in _row(server_page, "certificate")[2]
    export = json.loads(pages["data/benchmarks.json"])
    (failed,) = [r for r in export["results"] if r["status"] == "failed"]
    assert failed["metrics"] == {} and failed["failure"] == TLS_FAILURE


def test_the_ceiling_warning_appears_above_half_the_ceiling_only(pages: dict[str, str]) -> None:
    page = pages["benchmarks/h2load.md"]
    warning = "above half the load tool's ceiling"
    assert warning in _row(page, "6,200")[3]  # http/1.1: 6,200 > 10,000 / 2
    assert warning not in _row(page, "4,000<br>")[3]  # 4,000 < 5,000
    # nginx-h2+tls is compared with the h2+tls ceiling (8,000), not http/1.1's (10,000).
    assert "(8,000 req/s)" in _row(page, "4,500")[3]
    # A rate the tool was asked for is no measurement: only the achieved rate is compared.
    fixed_rate = pages["benchmarks/fixed-rate-latency.md"]
    assert "3,000<br>" in fixed_rate and "sd-ceiling" not in fixed_rate
    # The second machine has no calibration: nothing to compare with, and the page says so.
    assert warning not in _row(page, "7,777")[3]
    assert f"No calibration was captured in {synthetic.CAPTURE_ID}" in page


@pytest.mark.parametrize(("ceiling", "sentence"), [(10_000.0, True), (100_000.0, False)])
def test_the_headroom_sentence_appears_below_three_times(
    tmp_path: Path, ceiling: float, sentence: bool
) -> None:
    page = render_pages(load_evidence(benchmark_data(tmp_path, ceiling)))[
        "benchmarks/calibration.md"
    ]
    headroom = _row(page, "http/1\\.1 json\\_sync c=200")
    assert headroom[-1] == ("1\\.6×" if sentence else "16\\.1×")  # ceiling / 6,200
    assert ("ceiling is only 1\\.6× the fastest Django figure" in page) is sentence


def test_the_slow_upstream_page_sets_the_article_table_beside_ours(
    pages: dict[str, str], built: Path
) -> None:
    page = pages["benchmarks/locust-upstream.md"].split("## Machine")[1]  # the first machine
    header = "| Configuration | article: min ms | p95 ms | average ms | max RPS | ours: min ms |"
    assert header in page
    row = _row(page, "Uvicorn, 1 process, async", "| Configuration | article")
    assert row[1:5] == ["616", "1000", "853\\.56", "115"]  # the article's published figures
    assert "<br>" in row[8]  # ours: the median answered/s with its spread
    # A configuration of the article this capture did not measure says so, and the findings
    # say why nothing is compared.
    small_pool = _row(page, "uWSGI, 1 process, 2 threads", "| Configuration | article")
    assert small_pool[5:] == ["not measured"] * 6
    assert "Not compared: no successful figure here for uWSGI, 1 process, 2 threads" in page
    html = (built / "benchmarks" / "locust-upstream" / "index.html").read_text()
    headers = re.findall(r"<th[^>]*>(.*?)</th>", html)
    assert headers[:5] == ["Configuration", "article: min ms", "p95 ms", "average ms", "max RPS"]


def test_failures_by_users_are_a_table_with_users_as_columns(pages: dict[str, str]) -> None:
    page = pages["benchmarks/locust-upstream.md"]
    assert "| Server | 10 users | 50 users | 100 users |" in page
    row = _row(page, "37.50<br>", "| Server | 10 users")
    # The name is the definition's, not the data file's ("Gunicorn sync").
    assert row[0] == "[Gunicorn \\(sync workers\\)](../servers/gunicorn-sync.md)"
    assert row[1].startswith("0.00<br>") and row[3].startswith("37.50<br><small>37.50–37.50")


def test_a_variant_has_its_own_row_and_bar_beside_the_default(
    pages: dict[str, str], built: Path
) -> None:
    page = pages["benchmarks/locust-upstream.md"]
    row = _row(page, "12.50<br>", "| Server | 10 users")
    # Contributed text is escaped for Markdown: the hyphen shows as a hyphen.
    assert row[0] == "[Gunicorn \\(sync workers\\)](../servers/gunicorn-sync.md) (threads\\-100)"
    upstream_row = _row(page, "(threads\\-100)", "| Configuration | answered/s")
    assert upstream_row[0].startswith("[Gunicorn \\(sync workers\\)]")
    labels = {
        text.text
        for chart in (built / "benchmarks" / "charts").glob("*.svg")
        if "upstream" in chart.read_text().lower()
        for text in ET.fromstring(chart.read_text()).iter("{http://www.w3.org/2000/svg}text")
    }
    assert {"Gunicorn (sync workers), threads-100", "Gunicorn (sync workers)"} <= labels


def test_figures_of_two_machines_never_share_a_table_or_chart(built: Path) -> None:
    machines = {"this": {"6,200", "611"}, "other": {"7,777", "633"}}
    seen: set[str] = set()
    pages = [*(built / "benchmarks").glob("*/index.html"), built / "servers/uvicorn/index.html"]
    for page in pages:
        for table in re.findall(r"<table>.*?</table>", page.read_text(), re.S):
            shown = {name for name, values in machines.items() for v in values if f">{v}<" in table}
            assert len(shown) <= 1, page
            seen |= shown
    for chart in (built / "benchmarks" / "charts").glob("*.svg"):
        svg = chart.read_text()
        shown = {name for name, values in machines.items() for v in values if f">{v}<" in svg}
        assert len(shown) <= 1, chart
        seen |= shown
    assert seen == {"this", "other"}  # both machines' figures are shown, apart


def test_only_the_latest_capture_of_each_machine_and_server_is_shown(
    pages: dict[str, str],
) -> None:
    export = json.loads(pages["data/benchmarks.json"])
    assert {r["capture"] for r in export["results"]} == {synthetic.CAPTURE_ID}
    assert not any("99,999" in text for text in pages.values() if isinstance(text, str))


def test_benchmarks_json_has_the_public_shape(pages: dict[str, str]) -> None:
    export = json.loads(pages["data/benchmarks.json"])
    assert set(export) == {"schema_version", "machines", "results"}
    assert export["schema_version"] == SCHEMA_VERSION
    assert [m["id"] for m in export["machines"]] == [OTHER_MACHINE, synthetic.MACHINE_ID]
    keys = {
        "server",
        "scenario",
        "figure",
        "machine",
        "capture",
        "profile",
        "settings",
        "measured_at",
        "params",
        "status",
        "failure",
        "metrics",
        "spread",
        "flags",
        "repeats",
        "source",
    }
    assert all(set(result) == keys for result in export["results"])
    sources = {r["source"] for r in export["results"]}
    assert f"benchmarks/{synthetic.MACHINE_ID}/{synthetic.CAPTURE_ID}/calibration.json" in sources
    wide = next(r for r in export["results"] if r["flags"])
    assert wide["spread"]["requests_per_s"] == {
        "median": 4_000.0,
        "min": 3_000.0,
        "max": 5_000.0,
        "cv_percent": 25.0,
    }
    assert len(wide["repeats"]) == 3


def test_server_pages_list_their_figures_per_machine(pages: dict[str, str]) -> None:
    page = pages["servers/uvicorn.md"]
    assert "## Benchmarks {: #benchmarks }" in page
    for machine in (synthetic.MACHINE_ID, OTHER_MACHINE):
        assert f"### On machine `{machine}`" in page
        assert f"(../benchmarks/h2load.md#machine-{machine})" in page
    assert "requests/s: 6,200<br>" in page


def test_methodology_explains_the_benchmarks_from_settings_and_data(
    pages: dict[str, str],
) -> None:
    page = pages["methodology.md"]
    assert "## Benchmarks {: #benchmarks }" in page
    assert "server on CPU 0, load tools on CPU 1" in page
    assert "one worker process \\(synthetic\\)" in page  # the worker rule, from the data
    # The synthetic files were measured with the quick profile's settings, which they store.
    quick = str(BENCHMARK_SETTINGS["quick"].max_repeats)
    assert set(_row(page, "Repeats at most")[1:]) == {quick}  # a column per machine
    assert "synthetic test fixture" in page  # settings_source, from the data
    assert "--master --expect-workers N -H http://target" in page
    assert "--worker --master-host HOST" in page
    assert 'SERVING_DJANGO_STEPS="50:10,150:10,300:10"' in page
    assert "scripts/nox -s regenerate -- --server uvicorn --scenario h2load" in page


def test_methodology_shows_the_settings_a_file_stores_not_todays_code(tmp_path: Path) -> None:
    document = synthetic.benchmark("uvicorn")
    document["settings"] |= {"max_repeats": 9, "warmup_s": 0.7, "cv_flag_percent": 12.5}
    synthetic.write_data(tmp_path, [synthetic.run("uvicorn")], [document])
    pages = render_pages(load_evidence(tmp_path))
    page = pages["methodology.md"]
    assert _row(page, "Repeats at most")[1:] == ["9"]
    assert _row(page, "Warm\\-up before each h2load run")[1:] == ["0\\.7 s"]
    assert "exceeds 12\\.5 %" in page  # the CV threshold in the prose is the data's too
    assert all(profile.max_repeats != 9 for profile in BENCHMARK_SETTINGS.values())


def test_cv_marks_come_from_the_stored_flags(tmp_path: Path) -> None:
    """A figure whose stored flags are empty shows no CV mark, however wide its spread; the
    mark shows the threshold stored with the flag."""
    wide = synthetic.figure(
        "h2load",
        "wide",
        {"tool": "h2load", "protocol": "http/1.1", "endpoint": "json_async", "clients": 200},
        [{"requests_per_s": 100.0}, {"requests_per_s": 200.0}, {"requests_per_s": 300.0}],
    )
    assert wide["flags"]  # measured wide: flagged at capture time
    quiet = {**wide, "figure": "quiet", "flags": []}
    loud = {**wide, "figure": "loud"}
    loud["flags"] = [{**loud["flags"][0], "threshold_percent": 7.0}]
    document = synthetic.benchmark("uvicorn", [quiet, loud])
    synthetic.write_data(tmp_path, [synthetic.run("uvicorn")], [document])
    server_page = render_pages(load_evidence(tmp_path))["servers/uvicorn.md"]
    quiet_row = next(line for line in server_page.splitlines() if "| quiet |" in line)
    loud_row = next(line for line in server_page.splitlines() if "| loud |" in line)
    assert "⚠ CV" not in quiet_row
    assert "&gt; 7 %" in loud_row


def test_with_no_benchmark_every_page_says_none_was_captured(tmp_path: Path) -> None:
    synthetic.write_data(tmp_path, [synthetic.run("uvicorn")])
    pages = render_pages(load_evidence(tmp_path))
    for scenario in ("index", *SCENARIOS):
        text = pages[f"benchmarks/{scenario}.md"]
        assert "No benchmark has been captured on any machine yet" in text
    assert json.loads(pages["data/benchmarks.json"])["results"] == []
    assert "No benchmark has been captured for this server yet" in pages["servers/uvicorn.md"]


def test_charts_scale_to_large_values() -> None:
    assert _nice_ceiling(0.3) == pytest.approx(0.3)
    assert _nice_ceiling(7) == 8
    assert _nice_ceiling(10.5) == 12  # an axis ends at most a quarter past the data
    assert _nice_ceiling(1_001) == 1_200
    assert _nice_ceiling(123_456) == 150_000
    svg = horizontal_bars("t", "d", [Bar("a", (50_000.0,)), Bar("b", (123_456.0,))], ("s",), "r")
    root = ET.fromstring(svg)
    widths = [
        float(rect.get("width"))
        for rect in root.iter("{http://www.w3.org/2000/svg}rect")
        if rect.find("{http://www.w3.org/2000/svg}title") is not None
    ]
    plot = BAR_CHART_WIDTH - 72  # the bars' room for 150,000
    assert widths == [pytest.approx(plot / 3, abs=0.05), pytest.approx(plot * 0.82304, abs=0.05)]
    assert "150,000" in svg


def test_charts_are_svg_with_a_title_and_description(built: Path) -> None:
    for chart in (built / "benchmarks" / "charts").glob("*.svg"):
        root = ET.fromstring(chart.read_text())
        assert root.get("role") == "img"
        assert root.find("{http://www.w3.org/2000/svg}title").text
        assert root.find("{http://www.w3.org/2000/svg}desc").text


def test_the_benchmarks_csv_has_a_row_per_figure_and_metric(pages: dict[str, str]) -> None:
    import csv
    import io

    export = json.loads(pages["data/benchmarks.json"])
    rows = list(csv.DictReader(io.StringIO(pages["data/benchmarks.csv"])))
    expected = sum(
        len(result["metrics"]) if result["status"] == "ok" else 1 for result in export["results"]
    )
    assert len(rows) == expected
    failed = [row for row in rows if row["status"] == "failed"]
    assert failed and all(row["failure"] and row["value"] == "" for row in failed)
    rate = next(row for row in rows if row["metric"] == "requests_per_s")
    assert rate["unit"] == "requests per second" and float(rate["value"]) > 0


def test_each_figure_shows_its_change_since_the_previous_capture_of_its_profile(
    tmp_path: Path,
) -> None:
    earlier = synthetic.benchmark("alpha", [synthetic.h2load_figure([1000.0, 990.0, 1010.0])])
    later_id, other_id = "20260102T000000Z", "20260103T000000Z"
    later = synthetic.benchmark(
        "alpha", [synthetic.h2load_figure([1200.0, 1190.0, 1210.0])], capture=later_id
    )
    synthetic.write_data(tmp_path, [synthetic.run("alpha")], [earlier, later])
    page = render_pages(load_evidence(tmp_path))["benchmarks/h2load.md"]
    assert f"+20.0 % since {synthetic.CAPTURE_ID}" in page
    # A newer capture of another profile is not compared with them.
    full = synthetic.benchmark(
        "alpha", [synthetic.h2load_figure([500.0, 505.0, 495.0])], capture=other_id
    )
    full["profile"] = "standard"
    synthetic.write_data(tmp_path, [], [full])
    page = render_pages(load_evidence(tmp_path))["benchmarks/h2load.md"]
    assert " % since " not in page


def _with_previous(metric: str, earlier: list[float], later: list[float]) -> Figure:
    records = [
        synthetic.figure("locust-polls", "polls", {"users": 100}, [{metric: v} for v in values])
        for values in (earlier, later)
    ]
    return Figure(
        records[1],
        {"id": "alpha"},
        "m",
        "20260102T000000Z",
        "standard",
        "",
        False,
        None,
        None,
        previous=(synthetic.CAPTURE_ID, records[0]),
    )


def test_a_change_within_the_spread_is_not_shown_and_a_share_moves_by_points() -> None:
    # 1,050 lies inside 900-1,100: the medians do not move beyond the spreads, no change.
    within = _with_previous("answered_per_s", [1000.0, 900.0, 1100.0], [1050.0, 950.0, 1150.0])
    assert " since " not in value_cell(within, "answered_per_s")
    beyond = _with_previous("answered_per_s", [1000.0, 990.0, 1010.0], [1200.0, 1190.0, 1210.0])
    assert f"+20.0 % since {synthetic.CAPTURE_ID}" in value_cell(beyond, "answered_per_s")
    # A share of requests moves by points: 0.6 % to 4.6 % is +4.0 points, never +666.7 %.
    share = _with_previous("failures_percent", [0.6, 0.5, 0.7], [4.6, 4.5, 4.7])
    assert f"+4.0 points since {synthetic.CAPTURE_ID}" in value_cell(share, "failures_percent")


def test_a_figure_of_another_setup_shows_no_change_since(tmp_path: Path) -> None:
    earlier = synthetic.benchmark("alpha", [synthetic.h2load_figure([1000.0, 990.0, 1010.0])])
    later_figure = synthetic.h2load_figure([1200.0, 1190.0, 1210.0])
    later_figure["params"] = {**later_figure["params"], "workers": 3}
    later = synthetic.benchmark("alpha", [later_figure], capture="20260102T000000Z")
    synthetic.write_data(tmp_path, [synthetic.run("alpha")], [earlier, later])
    page = render_pages(load_evidence(tmp_path))["benchmarks/h2load.md"]
    assert " % since " not in page


def test_the_interleaved_page_shows_each_figure_measured_and_against_the_reference(
    tmp_path: Path,
) -> None:
    rounds = synthetic.interleaved(
        [
            synthetic.interleaved_figure("ref-asgi", "asgi", [9000.0, 4500.0, 9000.0]),
            synthetic.interleaved_figure("uvicorn", "asgi", [600.0, 300.0, 600.0], [0.0667] * 3),
        ]
    )
    synthetic.write_data(tmp_path, [synthetic.run("uvicorn")], [rounds])
    assert validate(tmp_path) == []
    pages = render_pages(load_evidence(tmp_path))
    page = pages["benchmarks/interleaved.md"]
    assert "Reference ASGI app" in page and "ignored" not in page
    row = next(line for line in page.splitlines() if line.startswith("| [Uvicorn]"))
    assert "| 600<br>" in row and "| 0.07<br>" in row  # as measured, and over the reference
    assert "benchmarks/charts/interleaved-1.svg" in pages
    # Its figures stay on their own page: the per-server files and tables do not take them.
    assert "interleaved" not in pages["benchmarks/h2load.md"].split("Generated from")[0]


def test_an_interleaved_figure_of_an_unknown_target_is_refused(tmp_path: Path) -> None:
    rounds = synthetic.interleaved(
        [synthetic.interleaved_figure("no-such-server", "wsgi", [1.0], [1.0])]
    )
    synthetic.write_data(tmp_path, [synthetic.run("uvicorn")], [rounds])
    assert any("no-such-server" in problem for problem in validate(tmp_path))


def test_a_change_between_two_interleaved_captures_links_to_their_page(tmp_path: Path) -> None:
    def rounds(capture: str, rate: float) -> dict:
        figures = [synthetic.interleaved_figure("uvicorn", "asgi", [rate] * 3, [0.1] * 3)]
        return synthetic.interleaved(figures, capture=capture)

    synthetic.write_data(
        tmp_path,
        [synthetic.run("uvicorn")],
        [rounds(OLD_CAPTURE, 300.0), rounds(synthetic.CAPTURE_ID, 600.0)],
    )
    changes = render_pages(load_evidence(tmp_path))["changes.md"]
    assert "[interleaved](benchmarks/interleaved.md)" in changes
    assert "servers/interleaved.md" not in changes


# ---- The setup each figure ran with (middleware stack, connections, upstream client) --------


def test_the_interleaved_page_splits_the_interface_gap_between_servers_and_middleware(
    tmp_path: Path,
) -> None:
    """WSGI answers 4x ASGI with Django's stack and 1.6x with none: the middleware makes the
    gap 2.5 times wider. The development server is in neither median."""
    figure = synthetic.interleaved_figure
    rounds = synthetic.interleaved(
        [
            figure("ref-asgi", "asgi", [9000.0] * 3),
            figure("uvicorn", "asgi", [500.0] * 3, [0.05] * 3, stack="production"),
            figure("uvicorn", "asgi", [2500.0] * 3, [0.3] * 3, stack="none"),
            figure("gunicorn-sync", "wsgi", [2000.0] * 3, [0.2] * 3, stack="production"),
            figure("gunicorn-sync", "wsgi", [4000.0] * 3, [0.4] * 3, stack="none"),
            figure("runserver", "wsgi", [50.0] * 3, [0.01] * 3, stack="production"),
        ]
    )
    runserver = synthetic.benchmark("runserver", [synthetic.h2load_figure([50.0] * 3)])
    runserver["server"].update(interface="wsgi", mode="development")
    synthetic.write_data(tmp_path, [synthetic.run("uvicorn")], [rounds, runserver])
    assert validate(tmp_path) == []
    page = render_pages(load_evidence(tmp_path))["benchmarks/interleaved.md"]
    assert (
        "the median ASGI configuration answered 500/s and the median WSGI one 2,000/s: "
        "WSGI 4\\.00× ASGI\\. With no middleware: 2,500/s and 4,000/s, WSGI 1\\.60× ASGI\\. "
        "Django&#x27;s middleware makes the gap 2\\.50 times wider"
    ) in page
    assert f"200 clients \\(capture {synthetic.CAPTURE_ID}\\)" in page
    assert "Django&#x27;s default stack \\+ ServeStatic" in page
    assert "no middleware in capture" in page
    rows = [line for line in page.splitlines() if line.startswith("| [Uvicorn]")]
    assert [row.split(" | ")[2] for row in rows] == ["production", "none"]


def test_a_capture_before_stacks_were_varied_is_labelled_and_not_split(tmp_path: Path) -> None:
    rounds = synthetic.interleaved(
        [
            synthetic.interleaved_figure("uvicorn", "asgi", [500.0] * 3, [0.05] * 3),
            synthetic.interleaved_figure("gunicorn-sync", "wsgi", [2000.0] * 3, [0.2] * 3),
        ]
    )
    old_h2load = synthetic.benchmark("uvicorn", [synthetic.h2load_figure([900.0] * 3)])
    synthetic.write_data(tmp_path, [synthetic.run("uvicorn")], [rounds, old_h2load])
    pages = render_pages(load_evidence(tmp_path))
    page = pages["benchmarks/interleaved.md"]
    assert "WSGI 4\\.00× ASGI\\. No figure with no middleware was measured" in page
    before = "Django&#x27;s default stack \\+ WhiteNoise, before stacks were varied, in capture"
    assert before in page
    assert f"Middleware stack: {before} {synthetic.CAPTURE_ID}" in pages["benchmarks/h2load.md"]


def test_the_h2load_and_fixed_rate_pages_state_the_stack_their_figures_ran_with(
    tmp_path: Path,
) -> None:
    h2load = synthetic.h2load_figure([900.0] * 3)
    h2load["params"].update(middleware_stack="production", static_files_middleware="whitenoise")
    fixed = synthetic.figure(
        "fixed-rate-latency",
        "json_sync",
        {
            "tool": "h2load",
            "protocol": "http/1.1",
            "endpoint": "json_sync",
            "middleware_stack": "production",
            "static_files_middleware": "whitenoise",
        },
        [synthetic.h2load_metrics(300.0)] * 3,
    )
    document = synthetic.benchmark("gunicorn-sync", [h2load, fixed], interface="wsgi")
    synthetic.write_data(tmp_path, [synthetic.run("gunicorn-sync")], [document])
    pages = render_pages(load_evidence(tmp_path))
    stack = "Django&#x27;s default stack \\+ WhiteNoise"
    stated = f"Middleware stack: {stack} in capture {synthetic.CAPTURE_ID}."
    assert stated in pages["benchmarks/h2load.md"]
    assert stated in pages["benchmarks/fixed-rate-latency.md"]


def _polls(connections: str | None, failures: dict[int, float], errors: list | None = None):
    params = {"tool": "locust", "database": "PostgreSQL"}
    name = "polls vote, PostgreSQL behind nginx"
    if connections == "pooled":
        params.update(connections="pooled", pool_max_size=10, pool_timeout_s=10.0)
        name += ", pooled"
    elif connections == "unpooled":
        params.update(connections="unpooled", variant="unpooled")
    record = synthetic.figure(
        "locust-polls", name, params, [synthetic.locust_metrics(failures, 100.0)]
    )
    if errors:
        record["repeats"][0]["server_errors"] = errors
    return record


def test_the_polls_page_sets_pooled_beside_unpooled_with_the_cause_of_failures(
    tmp_path: Path,
) -> None:
    timeout = "psycopg_pool.PoolTimeout: couldn't get a connection after 10.00 sec"
    uvicorn = synthetic.benchmark(
        "uvicorn",
        [
            _polls("pooled", {100: 0.0, 700: 5.0}, [{"error": timeout, "count": 42}]),
            _polls("unpooled", {100: 0.0, 700: 60.0}),
        ],
    )
    gunicorn = synthetic.benchmark(
        "gunicorn-sync", [_polls("pooled", {100: 0.0, 700: 0.0})], interface="wsgi"
    )
    synthetic.write_data(tmp_path, [synthetic.run("uvicorn")], [uvicorn, gunicorn])
    page = render_pages(load_evidence(tmp_path))["benchmarks/locust-polls.md"]
    assert "| ours, pooled: ASGI (median of its configurations measured pooled) |" in page
    assert "| ours, unpooled: ASGI (median of its configurations measured unpooled) |" in page
    assert "pooled: at most 10 connections per process, 10 s timeout |" in page
    assert "unpooled: a new connection per request |" in page
    assert "**Pooled: where ours agrees" in page and "**Unpooled: where ours agrees" in page
    cause = "What their servers logged as the cause of the errors: “psycopg\\_pool\\.PoolTimeout"
    assert cause in page and "(42)" in page.replace("\\", "")


def test_polls_figures_from_before_pooling_are_labelled_unpooled(tmp_path: Path) -> None:
    uvicorn = synthetic.benchmark("uvicorn", [_polls(None, {100: 0.0, 700: 60.0})])
    synthetic.write_data(tmp_path, [synthetic.run("uvicorn")], [uvicorn])
    page = render_pages(load_evidence(tmp_path))["benchmarks/locust-polls.md"]
    assert "unpooled: a new connection per request \\(before pooling was varied\\) |" in page
    assert "ours, unpooled: ASGI" in page and "ours, pooled" not in page


def _upstream(client: str | None, rate: float, cpu: float) -> dict:
    metrics = synthetic.locust_metrics({100: 0.0}, rate)
    metrics["step100_server_cpu_percent"] = cpu
    params = {"tool": "locust", "endpoint": "upstream_async"}
    name = "upstream_async"
    if client is not None:
        params["upstream_client"] = client
    if client == "shared":
        params["variant"] = "shared client"
        name += ", shared client"
    return synthetic.figure("locust-upstream", name, params, [metrics] * 3)


def test_the_upstream_page_gives_cpu_per_answer_with_each_client(tmp_path: Path) -> None:
    """30/s at 90 % of a core is 30 ms per answer; 60/s at 30 %, 5 ms."""
    uvicorn = synthetic.benchmark(
        "uvicorn", [_upstream("per-request", 30.0, 90.0), _upstream("shared", 60.0, 30.0)]
    )
    hypercorn = synthetic.benchmark("hypercorn", [_upstream(None, 30.0, 60.0)], name="Hypercorn")
    synthetic.write_data(tmp_path, [synthetic.run("uvicorn")], [uvicorn, hypercorn])
    page = render_pages(load_evidence(tmp_path))["benchmarks/locust-upstream.md"]
    section = page.split("### CPU per answer")[1].split("### Every configuration")[0]
    uvicorn_row = next(line for line in section.splitlines() if line.startswith("| [Uvicorn]"))
    assert uvicorn_row.count("|") == 8
    assert "| 30\\.0 |" in uvicorn_row and "| 5\\.0 |" in uvicorn_row
    hypercorn_row = next(line for line in section.splitlines() if "Hypercorn" in line)
    assert "| 20\\.0 |" in hypercorn_row and hypercorn_row.endswith("not measured |")
    assert (
        "Uvicorn: 30\\.0 ms of server CPU per answer with a client per request, 5\\.0 ms with "
        "one client per process \\(83 % of it was creating clients\\)"
    ) in section


def _polls_article_figure(per_cpu: bool) -> dict:
    """A SYNTHETIC polls figure of the article's setup (PostgreSQL behind nginx), failing from
    300 users; with ``per_cpu``, as captured since December 2026 (CPU 0 saturated and robbed by
    the hypervisor), else as before (no per-CPU shares, no accounting note)."""
    metrics = synthetic.locust_metrics({100: 0.0, 300: 20.0}, 100.0)
    for users, server, postgres in ((100, 30.0, 20.0), (300, 38.0, 45.0)):
        metrics[f"step{users}_server_cpu_percent"] = server
        metrics[f"step{users}_postgres_cpu_percent"] = postgres
        if per_cpu:
            metrics[f"step{users}_cpu0_busy_percent"] = 60.0 if users == 100 else 97.0
            metrics[f"step{users}_cpu0_steal_percent"] = 2.0
            metrics[f"step{users}_cpu1_busy_percent"] = 40.0
            metrics[f"step{users}_cpu1_steal_percent"] = 0.0
    params = {"tool": "locust", "database": "PostgreSQL", "server_cpus": "0", "load_cpus": "1"}
    if per_cpu:
        params |= {
            "cpu_accounting": "process trees with reaped children (synthetic)",
            "cpu_affinity": {"server": [0], "nginx": [0], "postgres": [0], "locust": [1]},
        }
    return synthetic.figure(
        "locust-polls", "polls vote, PostgreSQL behind nginx", params, [metrics] * 3
    )


def test_the_polls_page_shows_each_cpu_and_labels_figures_counted_the_old_way(
    tmp_path: Path,
) -> None:
    runs = [
        synthetic.run("uvicorn", name="Uvicorn", interface="asgi"),
        synthetic.run("gunicorn-sync", name="Gunicorn sync"),
    ]
    new = synthetic.benchmark("uvicorn", [_polls_article_figure(per_cpu=True)], name="Uvicorn")
    old = synthetic.benchmark(
        "gunicorn-sync", [_polls_article_figure(per_cpu=False)], interface="wsgi"
    )
    synthetic.write_data(tmp_path, runs, [new, old])
    assert validate(tmp_path) == []  # the per-CPU metrics and params are registered
    page = render_pages(load_evidence(tmp_path))["benchmarks/locust-polls.md"]
    page = page.replace("\\", "")  # Markdown's escapes of "(", "-", "." in text

    header = "| Server | CPU (what ran on it) | 100 users | 300 users |"
    assert header in page
    saturated = _row(page, "CPU 0 (server, nginx and PostgreSQL)", header)
    assert saturated[0].startswith("[Uvicorn]")
    assert saturated[3].startswith("97.00<br>") and "steal 2.00 %" in saturated[3]
    assert "| CPU 1 (Locust) |" in page
    # The old figure has its tree figures but no per-CPU row, and is named as counted the old way.
    assert "Gunicorn" not in page.split(header)[1].split("How busy each CPU")[0]
    assert "server, nginx and PostgreSQL on CPU 0; Locust on CPU 1" in page
    assert "Measured the old way: the CPU figures of Gunicorn" in page
    # The findings judge saturation by the CPU's busy share where there is one, and say what
    # the old figures cannot tell instead of calling them not CPU-bound.
    assert "under Uvicorn: CPU 0 (server, nginx and PostgreSQL) 97 % busy at 300 users" in page
    assert "The hypervisor stole up to 2.0 % of that CPU" in page
    assert "Measured the old way (Gunicorn" in page
    assert "so they cannot say whether the server&#x27;s CPU was saturated" in page
    assert "CPU-bound" not in page


def _idle_figure(metrics: dict, generator: str) -> dict:
    params = {"kind": "sse", "generator": generator, "bound": 2000, "stall_s": 3}
    base = {"connections_requested": 2000, "connection_errors": 0, "connections_dropped": 0}
    return synthetic.figure("idle-connections", "sse", params, [base | metrics])


def test_the_idle_page_tells_a_limit_from_a_deadline_and_shows_the_fresh_request(
    tmp_path: Path,
) -> None:
    """SYNTHETIC: one server took no more at 1024 streams and answered a fresh client, another
    was still opening at the deadline, a third held 3 streams and answered nobody else."""
    limited = _idle_figure(
        {"connections_opened": 1024, "connections_still_open": 1024, "connection_limit": 1024}
        | {"fresh_requests_answered": 1, "fresh_request_ms": 12.5},
        "async",
    )
    slow = _idle_figure(
        {"connections_opened": 1500, "connections_still_open": 1490, "connections_dropped": 10}
        | {"opens_pending_at_deadline": 500, "fresh_requests_answered": 1},
        "async",
    )
    threads = _idle_figure(
        {"connections_opened": 3, "connections_still_open": 3, "connection_limit": 3}
        | {"fresh_requests_answered": 0},
        "sync",
    )
    benchmarks = [
        synthetic.benchmark("granian-asgi", [limited], name="Granian"),
        synthetic.benchmark("hypercorn", [slow], name="Hypercorn"),
        synthetic.benchmark("gunicorn-sync", [threads], name="Gunicorn sync"),
    ]
    synthetic.write_data(tmp_path, [synthetic.run("uvicorn")], benchmarks)
    page = render_pages(load_evidence(tmp_path))["benchmarks/idle-connections.md"]
    header = next(line for line in page.splitlines() if line.startswith("| Server |"))
    for column in ("Generator", "Took no more at", "Pending at the deadline", "Dropped"):
        assert f"| {column} |" in header
    assert "| Fresh request answered | Fresh request ms |" in header
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    rows = [line for line in page.splitlines() if line.startswith("| ") and len(line) > 40]

    def cells(name: str) -> dict[str, str]:
        line = next(line for line in rows if line.startswith(f"| {name}") and "|---" not in line)
        values = [cell.strip().split("<br>")[0] for cell in line.strip("|").split("|")]
        return dict(zip(columns, values, strict=True))

    granian, hypercorn, gunicorn = cells("Granian"), cells("Hypercorn"), cells("Gunicorn")
    assert (granian["Took no more at"], granian["Fresh request ms"]) == ("1,024", "12.5")
    assert granian["Pending at the deadline"] == "n/a"
    assert (hypercorn["Pending at the deadline"], hypercorn["Dropped"]) == ("500", "10")
    assert hypercorn["Took no more at"] == "n/a"
    assert (gunicorn["Generator"], gunicorn["Fresh request answered"]) == ("sync", "0")


def _stalled_run(diagnosis: str) -> dict:
    """SYNTHETIC: a development server whose dev-write-stall check found ``diagnosis``."""
    document = synthetic.run("devserver", name="Dev server")
    document["server"]["mode"] = "development"
    reads = [{"bytes": 17, "at_ms": 1.0}, {"bytes": 293, "at_ms": 44.9}]
    medians = {"plain": 44.0, "client-nodelay": 44.1, "client-quickack": 0.6}
    document["checks"].append(
        document["checks"][0]
        | {
            "id": "dev-write-stall",
            "outcome": "no" if diagnosis != "none" else "yes",
            "evidence": {
                "diagnosis": diagnosis,
                "requests": 20,
                "settings": {
                    name: {
                        "setting": name,
                        "requests": 20,
                        "durations_ms": [median],
                        "median_ms": median,
                        "last_reads": reads,
                    }
                    for name, median in medians.items()
                },
            },
        }
    )
    return document


def test_the_requests_page_explains_a_one_client_floor_from_the_stall_check(
    tmp_path: Path,
) -> None:
    synthetic.write_data(tmp_path / "stalled", [_stalled_run("server-nagle")])
    page = render_pages(load_evidence(tmp_path / "stalled"))["benchmarks/h2load.md"]
    text = " ".join(page.replace("\\", "").split())  # Markdown escapes and line breaks aside
    assert "**Dev server at one client** answers on a floor of about 44 ms per request" in text
    assert "(../servers/devserver.md#dev-write-stall)" in text
    assert "0.6 ms when the client acknowledged every read at once" in text
    assert "the first 17 bytes arrived at once and the rest 43.9 ms later. The server" in text
    synthetic.write_data(tmp_path / "other", [_stalled_run("other")])
    page = render_pages(load_evidence(tmp_path / "other"))["benchmarks/h2load.md"]
    assert "at one client**" not in page  # a floor the stall does not explain is not explained
