"""The built site in a real browser (Debian's Chromium through Playwright): the matrix shows
every server and check, evidence links land on their evidence, filters work, charts have a
size, and no page logs a console error. Screenshots go to test-artifacts/. Benchmark pages are
also opened built from SYNTHETIC benchmark data, so that their charts are drawn."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from evidence.layout import REPO_ROOT
from evidence.vocabulary import SCENARIOS
from harness.browser import headless_chromium, unavailable_reason
from tests import synthetic

ARTIFACTS = REPO_ROOT / "test-artifacts"
BENCHMARK_PAGES = ["benchmarks/", *(f"benchmarks/{scenario}/" for scenario in SCENARIOS)]
PAGES = [
    "",
    "matrix/",
    "recommendations/",
    "methodology/",
    "changes/",
    "servers/",
    "contributing/",
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
    benchmarks = [
        calibration,
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


def _open(browser, url: str):
    page = browser.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(url, wait_until="networkidle")
    return page, problems


def test_matrix_shows_every_server_and_every_check(site, browser) -> None:
    base, site_dir = site
    export = json.loads((site_dir / "data" / "matrix.json").read_text())
    page, problems = _open(browser, base + "matrix/")
    table = page.locator("table:has(th:has-text('Interface'))").first
    rows = table.locator("tbody tr")
    assert rows.count() == len(export["servers"]) == 14
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
    visible = page.locator("table:has(th:has-text('Interface')) tbody tr:visible")
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
