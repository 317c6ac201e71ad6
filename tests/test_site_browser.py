"""The built site in a real browser (Debian's Chromium through Playwright): the matrix shows
every server and check, evidence links land on their evidence, filters work, charts have a
size, and no page logs a console error. Screenshots go to test-artifacts/."""

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

from harness.browser import headless_chromium, unavailable_reason
from harness.store import REPO_ROOT

ARTIFACTS = REPO_ROOT / "test-artifacts"
PAGES = ["", "matrix/", "recommendations/", "methodology/", "changes/", "servers/", "contributing/"]

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


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
