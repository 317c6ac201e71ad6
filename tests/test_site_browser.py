"""The built site in a real browser (Debian's Chromium through Playwright): the matrix shows
every server and check, evidence links land on their evidence, filters work, charts have a
size, and no page logs a console error. Screenshots go to test-artifacts/. Benchmark pages are
also opened built from SYNTHETIC benchmark data, so that their charts are drawn."""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from evidence.layout import REPO_ROOT
from evidence.vocabulary import SCENARIOS
from harness.browser import headless_chromium, unavailable_reason
from tests import synthetic

ARTIFACTS = REPO_ROOT / "test-artifacts"
SVG = "{http://www.w3.org/2000/svg}"
BENCHMARK_PAGES = ["benchmarks/", *(f"benchmarks/{scenario}/" for scenario in SCENARIOS)]
PAGES = [
    "",
    "matrix/",
    "smuggling/",
    "recommendations/",
    "methodology/",
    "changes/",
    "servers/",
    "contributing/",
    "glossary/",
    *BENCHMARK_PAGES,
]

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(site_dir: Path) -> Iterator[tuple[str, Path]]:
    handler = functools.partial(QuietHandler, directory=str(site_dir))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", site_dir
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The site built from the committed data/, served on 127.0.0.1."""
    site_dir = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    yield from _serve(site_dir)


@pytest.fixture(scope="module")
def benchmark_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The site built from SYNTHETIC data with every benchmark scenario on two machines, one
    failed figure and a calibration, served on 127.0.0.1."""
    data = tmp_path_factory.mktemp("data")
    runs = [
        synthetic.run("uvicorn", name="Uvicorn", interface="asgi"),
        synthetic.run("gunicorn-sync", name="Gunicorn sync"),
    ]
    calibration = synthetic.benchmark(
        "calibration",
        [
            synthetic.calibration_figure("h2load", "http/1.1", 5_000.0),
            synthetic.calibration_figure("locust", "http/1.1", 800.0),
        ],
    )
    failed = synthetic.h2load_figure([], protocol="h2c", failure="the server did not start")
    rounds = synthetic.interleaved(
        [
            synthetic.interleaved_figure("ref-asgi", "asgi", [9000.0] * 3),
            synthetic.interleaved_figure("uvicorn", "asgi", [600.0] * 3, [0.0667] * 3),
        ]
    )
    benchmarks = [
        calibration,
        rounds,
        synthetic.benchmark("uvicorn", name="Uvicorn"),
        synthetic.benchmark(
            "gunicorn-sync",
            [*synthetic.every_scenario("wsgi", 400.0), failed],
            name="Gunicorn sync",
            interface="wsgi",
        ),
        synthetic.benchmark("uvicorn", name="Uvicorn", machine_id="second-test-machine"),
    ]
    synthetic.write_data(data, runs, benchmarks)
    site_dir = tmp_path_factory.mktemp("benchmark-site")
    build = synthetic.build_site(data, site_dir)
    assert build.returncode == 0, build.stderr
    yield from _serve(site_dir)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with headless_chromium() as context:
        yield context


def _open(browser, url: str, wait_until: str = "load"):
    """A page at ``url``, loaded (the site is static; only /pick/ fetches data after load,
    so its tests wait for the network to be idle), with its console errors collected."""
    page = browser.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(url, wait_until=wait_until)
    return page, problems


def test_matrix_shows_every_server_and_every_check(site, browser) -> None:
    base, site_dir = site
    export = json.loads((site_dir / "data" / "matrix.json").read_text())
    page, problems = _open(browser, base + "matrix/")
    table = page.locator("table:has(th:has-text('Interface'))").first
    rows = table.locator("tbody tr[data-server]")  # the rows of Django's handlers aside
    # Every configuration with a run file on record has its row (a server's row may be filled
    # from several captures, but none is left out).
    with_runs = {path.stem for path in (REPO_ROOT / "data" / "runs").glob("*/*/*.json")}
    assert rows.count() == len(export["servers"]) == len(with_runs)
    header = " ".join(table.locator("thead th").all_inner_texts())
    for check in export["checks"]:
        assert check["title"] in header
    for server in export["servers"]:
        assert table.get_by_role("link", name=server["name"], exact=True).count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "matrix.png"), full_page=True)
    assert problems == []


def test_a_cell_opens_its_evidence(site, browser) -> None:
    base, site_dir = site
    export = json.loads((site_dir / "data" / "matrix.json").read_text())
    result = export["results"][-1]
    page, problems = _open(browser, base + "matrix/")
    page.locator("input[name='sd-group'][value='']").check()  # every check, not one group
    href = f"../{result['evidence_page']}"
    page.locator(f"a[href='{href}']").first.click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(result["evidence_page"])
    heading = page.locator(f"#{result['check']}")
    assert heading.is_visible()
    section = page.locator("article").inner_text()
    assert result["summary"].split(":")[0] in section
    assert problems == []


def test_filters_hide_rows_of_the_other_interface(site, browser) -> None:
    base, site_dir = site
    export = json.loads((site_dir / "data" / "matrix.json").read_text())
    page, problems = _open(browser, base + "matrix/")
    page.select_option("select[data-filter='interface']", "ASGI")
    visible = page.locator("table:has(th:has-text('Interface')) tbody tr[data-server]:visible")
    asgi = [server for server in export["servers"] if server["interface"] == "asgi"]
    assert visible.count() == len(asgi)
    assert problems == []


@pytest.mark.parametrize("path", PAGES)
def test_pages_load_without_console_errors_and_charts_have_a_size(site, browser, path: str) -> None:
    base, _ = site
    page, problems = _open(browser, base + path)
    for chart in page.locator("svg.sd-chart, img.sd-chart").all():
        box = chart.bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0
    if path == "":
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "home.png"), full_page=True)
    assert problems == []


def _chart_sizes(page) -> list[tuple[float, float, int]]:
    """(width, height, natural width) of every chart image; natural width 0 = not loaded."""
    return [
        (box["width"], box["height"], chart.evaluate("image => image.naturalWidth"))
        for chart in page.locator("img.sd-chart").all()
        for box in [chart.bounding_box()]
    ]


@pytest.mark.parametrize("path", [*BENCHMARK_PAGES, "servers/uvicorn/", "methodology/"])
def test_benchmark_pages_draw_every_chart_without_console_errors(
    benchmark_site, browser, path: str
) -> None:
    base, _ = benchmark_site
    page, problems = _open(browser, base + path)
    sizes = _chart_sizes(page)
    if path.startswith("benchmarks/") and path != "benchmarks/":
        assert sizes, "a scenario page with figures draws at least one chart"
    for width, height, natural_width in sizes:
        assert width > 0 and height > 0 and natural_width > 0
    if path == "benchmarks/h2load/":
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "benchmarks-h2load.png"), full_page=True)
    assert problems == []


# ---- A reader's first two minutes: the matrix at 1366 and 390 px, pick by need, accessibility


def _open_at(browser, url: str, width: int, height: int = 800, wait_until: str = "load"):
    page, problems = _open(browser, "about:blank")
    page.set_viewport_size({"width": width, "height": height})
    page.goto(url, wait_until=wait_until)
    return page, problems


def _choose_group(page, group: str) -> None:
    page.locator(f"input[name='sd-group'][value='{group}']").check()


def test_the_matrix_header_stays_in_view_while_scrolling_at_1366(site, browser) -> None:
    base, _ = site
    page, problems = _open_at(browser, base + "matrix/", 1366, 768)
    first = page.locator("table.sd-matrix thead th").first
    # One group (the default): the table fits, so the page scrolls and the header sticks
    # under the site's header bar.
    assert page.locator(".sd-matrix-wrap.sd-fits").count() == 1
    page.evaluate(
        "window.scrollTo(0, document.querySelector('table.sd-matrix tbody').getBoundingClientRect()"
        ".top + window.scrollY - 60 + 200)"
    )
    page.wait_for_timeout(300)
    box = first.bounding_box()
    assert box is not None and 0 <= box["y"] <= 120, box
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "matrix-1366-group-scrolled.png"))
    # All checks: the box scrolls both ways, the header row and the server column stay.
    _choose_group(page, "")
    wrap = page.locator(".sd-matrix-wrap")
    wrap.scroll_into_view_if_needed()
    wrap.evaluate("box => { box.scrollTop = box.scrollHeight; box.scrollLeft = box.scrollWidth; }")
    page.wait_for_timeout(300)
    wrap_box, header_box = wrap.bounding_box(), first.bounding_box()
    assert wrap_box is not None and header_box is not None
    assert abs(header_box["y"] - wrap_box["y"]) <= 2, (header_box, wrap_box)
    assert abs(header_box["x"] - wrap_box["x"]) <= 2  # the server column stayed at the left
    page.screenshot(path=str(ARTIFACTS / "matrix-1366-all-scrolled.png"))
    assert problems == []


def test_every_check_of_every_configuration_is_reachable_at_390_without_page_scroll(
    site, browser
) -> None:
    base, site_dir = site
    export = json.loads((site_dir / "data" / "matrix.json").read_text())
    page, problems = _open_at(browser, base + "matrix/", 390, 844)
    groups = page.locator("input[name='sd-group']").evaluate_all(
        "inputs => inputs.map(input => input.value)"
    )
    seen = set()
    texts: dict[str, str] = {}
    for group in groups:
        _choose_group(page, group)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, group
        # Every visible cell's box, read in one call (a round trip per cell took 20 s).
        cells = page.evaluate(
            """() => [...document.querySelectorAll('table.sd-matrix td[data-group]')]
                .map(cell => ({id: cell.id, text: cell.textContent.trim(),
                               box: cell.getBoundingClientRect()}))
                .filter(({box}) => box.width > 0 && box.height > 0)
                .map(({id, text, box}) => ({id, text, left: box.left, right: box.right}))"""
        )
        assert cells, group
        for cell in cells:
            assert cell["left"] >= 0 and cell["right"] <= 390, (group, cell)
            seen.add(cell["id"])
            texts[cell["id"]] = cell["text"]
    servers_cells = {f"{r['server']}/{r['check']}" for r in export["results"]}
    assert seen >= servers_cells
    # Besides: the cells of Django's handlers' rows, and a check no capture measured on a
    # server yet (capture 20261207T130659Z measured the operations checks on two of 14).
    others = {cell: texts[cell] for cell in seen - servers_cells if not cell.startswith("django-")}
    assert all(text == "not measured" for text in others.values()), others
    _choose_group(page, groups[0])
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "matrix-390.png"))
    assert problems == []


def test_a_deep_link_opens_its_cell_highlighted_in_its_group(site, browser) -> None:
    base, site_dir = site
    export = json.loads((site_dir / "data" / "matrix.json").read_text())
    result = export["results"][-1]
    check = next(c for c in export["checks"] if c["id"] == result["check"])
    page, problems = _open_at(browser, f"{base}matrix/#{result['server']}/{result['check']}", 1366)
    target = page.locator("table.sd-matrix .sd-target")
    assert target.count() == 1
    assert target.get_attribute("id") == f"{result['server']}/{result['check']}"
    assert target.is_visible()
    assert page.locator("input[name='sd-group']:checked").get_attribute("value") == check["group"]
    assert target.locator("a").get_attribute("title") == result["summary"]
    assert problems == []


def _expected_picks(export: dict, need_ids: list[str], tiers: bool = False) -> list:
    from generators.definitions import presented_checks
    from generators.needs import load_rules
    from generators.ranking import answer

    needs, watch = load_rules({check["id"] for check in presented_checks()})
    needs = [need for need in needs if need.id in need_ids]
    runs = [
        {
            "server": server,
            "checks": [
                {
                    "id": r["check"],
                    "outcome": r["outcome"],
                    "desync_inputs": r["desync_inputs"],
                    "cause": r["cause"],
                }
                for r in export["results"]
                if r["server"] == server["id"]
            ],
        }
        for server in export["servers"]
    ]
    # The page's order: per interface, tier by tier, a tie listed by name.
    result = answer(needs, runs, watch)
    return [
        (c.run["server"]["id"], str(rank)) if tiers else c.run["server"]["id"]
        for group in result.groups
        for rank, tier in enumerate(group.tiers, start=1)
        for c in tier
    ]


def _picked_tiers(page) -> list[tuple[str, str]]:
    """(server, rank) of each listed configuration: a tie shares its rank."""
    return [
        tuple(pair)
        for pair in page.locator("#sd-pick-result li").evaluate_all(
            "items => items.map(item => [item.dataset.server, item.dataset.tier])"
        )
    ]


def _picked(page, need_ids: list[str]) -> list[str]:
    for need in need_ids:
        page.locator(f"#sd-pick input[value='{need}']").check()
    page.wait_for_timeout(100)
    return page.locator("#sd-pick-result li").evaluate_all(
        "items => items.map(item => item.dataset.server)"
    )


def test_pick_by_need_lists_what_matrix_json_supports(site, browser) -> None:
    base, site_dir = site
    export = json.loads((site_dir / "data" / "matrix.json").read_text())
    wanted = ["websockets", "graceful-shutdown", "http2-no-proxy"]
    page, problems = _open_at(browser, base + "pick/", 1366, wait_until="networkidle")
    picked = _picked(page, wanted)
    assert picked == _expected_picks(export, wanted)
    assert _picked_tiers(page) == _expected_picks(export, wanted, tiers=True)
    assert picked, "the committed data has configurations with all three"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "pick.png"), full_page=True)
    page.locator("#sd-pick input[value='development']").check()  # no production server reloads
    page.wait_for_timeout(100)
    assert _picked(page, []) == _expected_picks(export, [*wanted, "development"])
    assert problems == []


@pytest.mark.parametrize("outcome", ["yes", "partial"])
def test_pick_by_need_follows_the_data(tmp_path: Path, browser, outcome: str) -> None:
    data = tmp_path / "data"
    synthetic.write_data(
        data, [synthetic.run("alpha"), synthetic.run("beta", name="Beta", outcome=outcome)]
    )
    site_dir = tmp_path / "site"
    build = synthetic.build_site(data, site_dir)
    assert build.returncode == 0, build.stderr
    for base, _ in _serve(site_dir):
        page, problems = _open_at(browser, base + "pick/", 1366, wait_until="networkidle")
        expected = ["alpha", "beta"] if outcome == "yes" else ["alpha"]
        assert _picked(page, ["sync-under-load"]) == expected
        if outcome == "yes":  # the same outcomes: a tie, which the list shows as one rank
            assert _picked_tiers(page) == [("alpha", "1"), ("beta", "1")]
            assert "tied with 1 other" in page.locator("#sd-pick-result li").first.inner_text()
        assert problems == []


def _audit(page) -> list[str]:
    """axe-core's serious and critical violations on a loaded page."""
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} e.g. {v['nodes'][0]['target']}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_django_s_part_is_set_aside_by_pick_and_shown_once_in_the_matrix(
    tmp_path: Path, browser
) -> None:
    """SYNTHETIC: beta's no was decided by Django's WSGI handler. Pick by need does not hold it
    against beta; the matrix shows Django's WSGI row under any mode, not under ASGI, and the
    page passes the accessibility audit."""
    decided = synthetic.run("beta", name="Beta", outcome="no")
    decided["checks"][0] |= {"cause": "django", "cause_detail": "Django decides it (x.py)."}
    data = tmp_path / "data"
    synthetic.write_data(data, [synthetic.run("alpha"), decided])
    site_dir = tmp_path / "site"
    build = synthetic.build_site(data, site_dir)
    assert build.returncode == 0, build.stderr
    for base, _ in _serve(site_dir):
        page, problems = _open_at(browser, base + "pick/", 1366, wait_until="networkidle")
        assert _picked(page, ["sync-under-load"]) == ["alpha", "beta"]
        page, problems = _open_at(browser, base + "matrix/", 1366)
        handler = page.locator("table.sd-matrix tr.sd-handler")
        assert handler.count() == 1 and handler.is_visible()
        page.select_option("select[data-filter='mode']", "development")
        assert handler.is_visible()  # Django's rows have no mode
        assert "0 configurations" in page.locator("#sd-matrix-filters output").inner_text()
        page.select_option("select[data-filter='mode']", "")
        page.select_option("select[data-filter='interface']", "ASGI")
        assert not handler.is_visible()
        page.select_option("select[data-filter='interface']", "")
        assert _audit(page) == []
        assert problems == []


SMALLEST_TEXT_PX = 11  # at 390 px wide, as the issue of phone-readable charts asks


def _smallest_chart_text(page) -> list[tuple[str, float]]:
    """(chart, its smallest text in CSS pixels as shown): each SVG's smallest font-size scaled
    by the width the page gives the image over the width the SVG is drawn at."""
    found = []
    for chart in page.locator("img.sd-chart").all():
        source = chart.evaluate("image => image.src")
        svg = ET.fromstring(page.request.get(source).text())
        drawn_at = float(svg.get("viewBox").split()[2])
        sizes = [float(t.get("font-size")) for t in svg.iter(SVG + "text") if t.get("font-size")]
        shown_at = chart.bounding_box()["width"]
        found.append((source, min(sizes) * shown_at / drawn_at))
    return found


@pytest.mark.parametrize("path", ["benchmarks/", *BENCHMARK_PAGES[1:]])
def test_chart_text_reads_on_a_phone(benchmark_site, browser, path: str) -> None:
    base, _ = benchmark_site
    page, problems = _open_at(browser, base + path, 390, 844)
    small = [(src, px) for src, px in _smallest_chart_text(page) if px < SMALLEST_TEXT_PX]
    assert small == []
    assert problems == []


def test_the_home_page_chart_reads_on_a_phone(site, browser) -> None:
    base, _ = site
    page, problems = _open_at(browser, base, 390, 844)
    shown = _smallest_chart_text(page)
    assert shown and all(px >= SMALLEST_TEXT_PX for _, px in shown), shown
    assert problems == []


WIDE_TABLE_PAGES = ["", "servers/", "operations/", "smuggling/", "recommendations/"]


@pytest.mark.parametrize("path", WIDE_TABLE_PAGES)
def test_tables_keep_their_first_column_whole_and_in_view_on_a_phone(
    site, browser, path: str
) -> None:
    """At 390 px, every table scrolled to its far right still shows its first column (the
    server, or what the row is) whole: no name is cut off or scrolled away."""
    base, _ = site
    page, problems = _open_at(browser, base + path, 390, 844)
    page.evaluate(
        """() => document.querySelectorAll('.md-typeset__scrollwrap, .sd-grid-wrap')
            .forEach(box => { box.scrollLeft = box.scrollWidth; })"""
    )
    cells = page.locator(
        ".md-typeset__table table:not([class]) tbody tr > :first-child, "
        ".sd-grid tbody tr > :first-child"
    )
    assert cells.count() > 0
    for cell in cells.all()[:60]:
        box = cell.bounding_box()
        if box is None:  # in a closed box (details) or a hidden row
            continue
        assert box["x"] >= -0.5 and box["x"] + box["width"] <= 390.5, (path, cell.inner_text())
        assert cell.evaluate("cell => cell.scrollWidth <= cell.clientWidth + 1"), cell.inner_text()
    assert problems == []


def test_a_benchmark_table_sorts_by_the_column_pressed(benchmark_site, browser) -> None:
    base, _ = benchmark_site
    page, problems = _open_at(browser, base + "benchmarks/h2load/", 1366)
    table = page.locator(".md-typeset__table table:has(th button.sd-sort)").first
    headers = table.locator("thead th")
    column = next(
        index
        for index in range(headers.count())
        if "requests/s" in headers.nth(index).inner_text().lower()
        or "answered/s" in headers.nth(index).inner_text().lower()
    )

    def numbers() -> list[float]:
        texts = table.locator(f"tbody tr > :nth-child({column + 1})").all_inner_texts()
        found = [re.search(r"-?\d[\d,]*(\.\d+)?", text) for text in texts]
        return [float(match.group(0).replace(",", "")) for match in found if match]

    headers.nth(column).locator("button").click()
    first = numbers()
    assert len(first) > 1 and first == sorted(first, reverse=True)
    headers.nth(column).locator("button").click()
    assert numbers() == sorted(first)
    assert headers.nth(column).get_attribute("aria-sort") == "ascending"
    assert problems == []


# Bytes of a server page's HTML: its evidence lies in servers/evidence/<id>.json.
SERVER_PAGE_LIMIT = 150_000


def test_every_server_page_is_light_and_opens_with_its_command(site, browser) -> None:
    """Each server page stays under the limit and shows its first command (production, or
    development for a development server) within the first screen at 1366 x 768, whole at
    1366 and 390 px wide (nothing to scroll sideways)."""
    base, site_dir = site
    export = json.loads((site_dir / "data" / "matrix.json").read_text())
    for server in export["servers"]:
        weight = (site_dir / "servers" / server["id"] / "index.html").stat().st_size
        assert weight < SERVER_PAGE_LIMIT, (server["id"], weight)
        for width in (1366, 390):
            page, problems = _open_at(browser, f"{base}servers/{server['id']}/", width, 768)
            command = page.locator("#commands ~ .highlight code").first
            box = command.bounding_box()
            assert box is not None, server["id"]
            if width == 1366:
                assert box["y"] < 768, (server["id"], box)
            assert command.evaluate("code => code.scrollWidth <= code.clientWidth"), server["id"]
            assert problems == []
            page.close()


def test_an_evidence_box_loads_its_part_of_the_server_s_file(site, browser) -> None:
    base, site_dir = site
    export = json.loads((site_dir / "data" / "matrix.json").read_text())
    result = next(r for r in export["results"] if r["server"] == "uvicorn")
    page, problems = _open_at(browser, base + "servers/uvicorn/", 1366)
    link = f"a[data-key='{result['check']}']:not([data-option])"
    box = page.locator(f"details.sd-evidence:has({link})")
    box.locator("summary").click()
    shown = box.locator("pre.sd-evidence-json")
    shown.wait_for()
    assert json.loads(shown.inner_text()) == result["evidence"]
    assert problems == []


AXE = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
AUDITED = ["", "matrix/", "pick/", "smuggling/", "recommendations/", "servers/"]
AUDITED += ["servers/uvicorn/"]
AUDITED += ["methodology/", "changes/", "contributing/", "benchmarks/", "benchmarks/h2load/"]
AUDITED += ["operations/", "operations/client-disconnect/", "glossary/"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1366, 390])
def test_every_page_type_passes_the_accessibility_audit(
    site, browser, width: int, scheme: str
) -> None:
    """axe-core (npm, pinned by package-lock.json; `npm ci` installs it) in the real browser:
    no serious or critical violation on any page type, in the light and the dark scheme (the
    theme follows the reader's preference, which the browser emulates)."""
    assert AXE.exists(), f"{AXE} is missing: run `npm ci` (scripts/nox -s tests does)"
    base, _ = site
    pages = {}
    for path in AUDITED:  # every page starts loading before any is waited for
        page, _ = _open(browser, "about:blank")
        page.emulate_media(color_scheme=scheme)
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(base + path, wait_until="commit")
        pages[path] = page
    for page in pages.values():
        page.wait_for_load_state("load")  # static pages: nothing arrives later
        page.add_script_tag(path=str(AXE))
        # Started from a timer, so this call returns at once and the audits of all pages run
        # together (each page has its own renderer process). Only violations are asked for:
        # axe then skips detailing every passing node.
        page.evaluate(
            """() => { window.sdAudit = new Promise(done => setTimeout(
                () => axe.run(document, {resultTypes: ["violations"]}).then(done), 0)); }"""
        )
    found = {}
    for path, page in pages.items():
        results = page.evaluate("async () => await window.sdAudit")
        serious = [
            f"{v['id']} ({v['impact']}): {v['help']} e.g. {v['nodes'][0]['target']}"
            for v in results["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if serious:
            found[path or "/"] = serious
        page.close()
    assert found == {}


def test_every_download_link_resolves_in_the_built_site(site, browser) -> None:
    base, _ = site
    page, problems = _open_at(browser, base + "methodology/", 1366)
    links = page.locator("#downloads ~ * a[href*='data/']").evaluate_all(
        "links => links.map(link => link.href)"
    )
    archives = [link for link in links if link.endswith(".zip")]
    assert archives and any(link.endswith(".csv") for link in links)
    for link in links:
        response = page.request.get(link)
        assert response.status == 200, link
        if link.endswith(".zip"):
            assert response.body()[:2] == b"PK", link
    assert problems == []
