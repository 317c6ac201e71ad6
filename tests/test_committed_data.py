"""The committed ``data/``: it reads (older files upgraded without losing anything), and the
site rendered from it shows every figure's metrics on the pages they belong to."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from evidence.documents import upgraded
from evidence.files import read_json
from evidence.layout import DEFAULT_DATA_DIR, DataDir
from evidence.metrics import headlines, lookup
from evidence.migrations import update_to_2
from evidence.validation import Evidence, load_evidence
from evidence.vocabulary import ANSWERS_COUNTED_ON_ARRIVAL
from generators.benchmarks.cells import not_a_throughput, number
from generators.benchmarks.figures import Figure, MachineBenchmarks, shown_benchmarks
from generators.benchmarks.shared_points import one_figure_per_point
from generators.render import render_pages
from harness.definitions import load_definitions
from tests.physical_bounds import unlabelled_rates_above_bounds, upstream_bound

# Raw details a scenario page has no column for; they are in the data files and in
# data/benchmarks.json, which the pages link to. A metric not listed here must be on its page.
DOWNLOAD_ONLY = {
    "calibration": {"requests_total", "latency_min_ms", "latency_avg_ms", "latency_max_ms"}
    | {"latency_p95_ms"},
    "h2load": {"requests_total"},
    # The interleaved page shows rates, ratios, p50 and p99; the rest is in benchmarks.json.
    "interleaved": {"requests_total", "latency_p95_ms", "latency_max_ms"}
    | {"unparsed_status_percent"},
    "fixed-rate-latency": {"unparsed_status_percent"},
    # The denominator of memory per connection, and the idle RSS beside the idle PSS shown.
    "idle-connections": {"open_phase_s", "connections_open_at_peak", "idle_memory_rss_bytes"},
    "locust-polls": {"requests_total"},
    "locust-upstream": {"requests_total"},
}
# A rounds' figure cited on the h2load page: its ratio to the reference is on the rounds' page.
CITED_ELSEWHERE_ONLY = {"reference_ratio", "unparsed_status_percent"}
# Per-step latency other than p95 (the articles' percentile) is download-only too.
STEP_DOWNLOAD_ONLY = {"latency_min_ms", "latency_avg_ms", "latency_max_ms", "latency_p50_ms"}
STEP_DOWNLOAD_ONLY_CALIBRATION = STEP_DOWNLOAD_ONLY | {"latency_p95_ms"}


@pytest.fixture(scope="module")
def evidence() -> Evidence:
    return load_evidence(DEFAULT_DATA_DIR)


@pytest.fixture(scope="module")
def pages(evidence: Evidence) -> dict[str, str]:
    return render_pages(evidence)


def _downgraded(document: dict[str, Any], kind: str) -> dict[str, Any]:
    """A version-2 document put back in version 1's shape: the inverse of update_to_2."""
    old = copy.deepcopy(document)
    old["schema_version"] = 1
    if kind == "run":
        for check in old["checks"]:
            moved = {"question": check.pop("question"), "thresholds": check.pop("thresholds")}
            if (timed := check.pop("timed")) is not None:
                moved["timed"] = timed
            check["evidence"] = {**moved, **check["evidence"]}
    if kind == "benchmark":
        del old["settings"], old["settings_source"]
        for figure in old["results"]:
            figure["flags"] = [
                f"{flag['metric']}: CV {flag['cv_percent']:.1f} % > "
                f"{flag['threshold_percent']:.0f} %"
                for flag in figure["flags"]
            ]
    return old


def _committed() -> list[tuple[str, Any]]:
    data = DataDir(DEFAULT_DATA_DIR)
    return [
        *(("machine", path) for path in data.machine_paths()),
        *(("run", path) for path in data.run_paths()),
        *(("benchmark", path) for path in data.benchmark_paths()),
    ]


def test_every_committed_file_upgrades_without_losing_a_value() -> None:
    """Each version-1 file, upgraded and put back, is the file on disk: nothing recorded is
    lost or changed by the upgrade."""
    checked = 0
    for kind, path in _committed():
        raw = read_json(path)
        document, problems = upgraded(raw, kind, str(path))
        assert problems == [], (path, problems)
        if raw["schema_version"] == 1:
            assert _downgraded(document, kind) == raw, path
            checked += 1
    assert checked > 0


def test_every_committed_benchmark_file_knows_its_settings(evidence: Evidence) -> None:
    for loaded in evidence.benchmarks:
        assert loaded.document["settings"] is not None, loaded.source
        assert loaded.document["settings"]["cv_flag_percent"] == 10.0


def test_a_version_1_file_from_an_unknown_commit_says_its_settings_are_unknown() -> None:
    _, path = next(item for item in _committed() if item[0] == "benchmark")
    raw = read_json(path)
    raw["provenance"]["git_commit"] = "f" * 40
    document = update_to_2(raw, "benchmark", str(path))
    assert document["settings"] is None
    assert "not recorded" in document["settings_source"]
    assert "f" * 40 in document["settings_source"]


def _shown_figures(machine: MachineBenchmarks) -> list[tuple[str, Figure]]:
    """(page, figure) for every figure a scenario page shows: the h2load page shows, at the
    points the same capture's interleaved rounds measured too, the rounds' figure instead of
    its own (generators/benchmarks/shared_points.py)."""
    h2load = machine.figures("h2load")
    shared = one_figure_per_point(machine, h2load)
    replaced = {id(figure) for figure in h2load} - {id(figure) for figure in shared.figures}
    shown = [
        (figure.record["scenario"], figure)
        for file in machine.shown_files()
        for figure in file.figures
        if id(figure) not in replaced
    ]
    return shown + [("h2load", figure) for figure in shared.cited]


def _page_misses(evidence: Evidence, pages: dict[str, str]) -> dict[str, set[str]]:
    missing: dict[str, set[str]] = {}
    for machine in shown_benchmarks(evidence, set()).machines:
        for scenario, figure in _shown_figures(machine):
            page = pages[f"benchmarks/{scenario}.md"]
            for name, value in figure.record["metrics"].items():
                meaning = lookup(name)
                assert meaning is not None, name
                base = meaning.metric.name
                allowed = (
                    (
                        STEP_DOWNLOAD_ONLY_CALIBRATION
                        if scenario == "calibration"
                        else STEP_DOWNLOAD_ONLY
                    )
                    if meaning.step_users is not None
                    else DOWNLOAD_ONLY.get(scenario, set())
                )
                if figure.record["scenario"] != scenario:  # a rounds' figure cited
                    allowed = allowed | CITED_ELSEWHERE_ONLY
                if value is None or base in allowed:
                    continue
                # A load tool's rate that counts failed requests is withheld, and says so.
                if figure.counts_failures(name):
                    if not_a_throughput(figure, name) not in page:
                        missing.setdefault(scenario, set()).add(name)
                    continue
                # A latency the run could not observe is withheld, and says why.
                if (why := figure.unobservable(name)) is not None:
                    if why not in page:
                        missing.setdefault(scenario, set()).add(name)
                    continue
                if number(value, name) not in page:
                    missing.setdefault(scenario, set()).add(name)
    return missing


def test_every_metric_of_a_shown_figure_is_on_its_scenario_page(
    evidence: Evidence, pages: dict[str, str]
) -> None:
    assert _page_misses(evidence, pages) == {}


def test_the_sync_middleware_page_shows_the_requests_per_second_ratio(
    evidence: Evidence, pages: dict[str, str]
) -> None:
    page = pages["benchmarks/sync-middleware-cost.md"]
    assert "Requests/s ratio" in page
    figures = [
        figure
        for machine in shown_benchmarks(evidence, set()).machines
        for figure in machine.figures("sync-middleware-cost")
        if figure.ok
    ]
    assert figures
    for figure in figures:
        assert number(figure.metric("throughput_ratio"), "throughput_ratio") in page


def test_a_page_missing_a_metric_is_noticed(evidence: Evidence, pages: dict[str, str]) -> None:
    """The check above can fail: drop the ratio column and it names the metric."""
    broken = dict(pages)
    broken["benchmarks/sync-middleware-cost.md"] = ""
    assert "throughput_ratio" in _page_misses(evidence, broken)["sync-middleware-cost"]


def test_server_pages_show_each_figure_s_headline_metrics(
    evidence: Evidence, pages: dict[str, str]
) -> None:
    benchmarks = shown_benchmarks(evidence, set())
    for machine in benchmarks.machines:
        for file in machine.files:
            page = pages.get(f"servers/{file.server['id']}.md")
            if page is None:
                continue
            # At a point the interleaved rounds measured too, the rounds' figure (one point,
            # one figure across the site).
            for figure in one_figure_per_point(machine, file.figures).figures:
                if not figure.ok:
                    continue
                for metric in headlines(figure.record["scenario"]):
                    if metric.name not in figure.record["metrics"]:
                        continue  # a headline shows the figure's own metrics only
                    value = figure.metric(metric.name)
                    if figure.counts_failures(metric.name):
                        assert not_a_throughput(figure, metric.name) in page, file.source
                    elif (why := figure.unobservable(metric.name)) is not None:
                        assert why in page, (file.source, metric.name)
                    elif value is not None:
                        assert number(value, metric.name) in page, (file.source, metric.name)


def test_the_public_exports_hold_every_shown_figure(
    evidence: Evidence, pages: dict[str, str]
) -> None:
    export = json.loads(pages["data/benchmarks.json"])
    shown = sum(len(file.figures) for file in shown_benchmarks(evidence, set()).files())
    assert len(export["results"]) == shown
    assert all(result["settings"] for result in export["results"])


def test_no_committed_slow_upstream_rate_exceeds_what_its_configuration_can_answer(
    evidence: Evidence, pages: dict[str, str]
) -> None:
    """Every answered rate of a committed slow-upstream figure is within what its
    configuration can answer (tests/physical_bounds.py: workers x threads over the longest
    upstream call, plus one answer per slot at the window's edge), but for the run rates that
    counted answers by when their request was sent (before December 2026): those hold the
    queue drained after the last step (uWSGI with 2 threads: 5.5/s where 3.4 fit), and the
    rendered page must say so beside each, as it must for any rate above its bound."""
    definitions = load_definitions()
    over_in_data = []
    for loaded in evidence.benchmarks:
        server = loaded.document["server"]["id"]
        for record in loaded.document["results"]:
            bound = upstream_bound({**record, "server": server}, definitions)
            if record["scenario"] != "locust-upstream" or record["status"] != "ok" or not bound:
                continue
            counted_on_arrival = (
                record["params"].get("answers_counted") == ANSWERS_COUNTED_ON_ARRIVAL
            )
            for repeat in record["repeats"]:
                for name, value in repeat["metrics"].items():
                    if not name.endswith("answered_per_s") or value is None:
                        continue
                    drained_in_it = name == "answered_per_s" and not counted_on_arrival
                    if value > bound.per_s and not drained_in_it:
                        over_in_data.append((loaded.source, record["figure"], name, value))
    assert over_in_data == []

    shown = shown_benchmarks(evidence, set())
    page = pages["benchmarks/locust-upstream.md"]
    sections = page.split("\n## Machine `")[1:]
    assert len(sections) == len(shown.machines)
    checked = 0
    for machine, section in zip(shown.machines, sections, strict=True):
        bounds = {}
        for figure in machine.figures("locust-upstream"):
            as_stored = {"params": figure.params, "server": figure.server["id"]}
            found = upstream_bound(as_stored, definitions)
            if found is not None:
                bounds[(figure.server["id"], str(figure.params.get("variant") or ""))] = found
        assert unlabelled_rates_above_bounds(section, "locust-upstream", bounds) == []
        checked += len(bounds)
    assert checked  # some shown configuration has a bound to check
