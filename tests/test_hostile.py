"""Contributed data is untrusted: hostile strings in every field render inert on every page."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

from evidence.vocabulary import SCENARIOS
from tests import synthetic

# Each carries the marker INJECT so a surviving piece of markup can be found in the HTML.
HOSTILE = [
    "<script>alert('INJECT')</script>",
    "</title><script>alert('INJECT')</script>",
    '"><img src=x onerror="alert(INJECT)">',
    "' onmouseover='alert(INJECT)",
    "[INJECT](javascript:alert(1))",
    "<a href='javascript:alert(1)'>INJECT</a>",
    "**INJECT** _INJECT_ `INJECT`",
    "![INJECT](https://evil.example/x.png)",
    "<https://evil.example/INJECT>",
    "| INJECT | table | breakout |",
    "INJECT\x00\x07\x1b[31m control characters",
    "INJECT " + "A" * 90,
    "{{ INJECT }} {% INJECT %}",
    "<!-- INJECT -->",
    "&lt;script&gt;INJECT&lt;/script&gt;",
]


class MarkupFinder(HTMLParser):
    """Collects the markup a hostile string would have created if it had survived escaping."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open_tags: list[str] = []
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open_tags.append(tag)
        for name, value in attrs:
            value = value or ""
            if name.startswith("on") and "INJECT" in value:
                self.found.append(f"<{tag} {name}=...>")
            if name in ("href", "src") and (
                value.strip().lower().startswith("javascript:")
                or "evil.example" in value
                or (tag == "img" and value == "x")
            ):
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open_tags:
            del self.open_tags[len(self.open_tags) - 1 - self.open_tags[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        inside = self.open_tags[-1] if self.open_tags else ""
        # Our own templates put data inside <strong>; "**INJECT**" rendered would be exactly it.
        emphasised = inside in ("strong", "em", "b", "i") and data.strip() == "INJECT"
        if (inside == "script" and "INJECT" in data) or emphasised:
            self.found.append(f"<{inside}> containing {data.strip()[:40]!r}")

    def handle_comment(self, data: str) -> None:
        if "INJECT" in data:
            self.found.append("a comment from data")


def dangerous_markup(html: str) -> list[str]:
    finder = MarkupFinder()
    finder.feed(html)
    return finder.found


def _hostile_run(server_id: str, text: str) -> dict:
    document = synthetic.run(server_id, name=text, summary=text, notes=[text])
    document["server"]["summary"] = text
    document["server"]["requirements"] = [text]
    document["provenance"]["command"] = ["server", text]
    document["startup"]["log_tail"] = text
    check = document["checks"][0]
    check["title"] = text
    check["group"] = text
    check.update(question=text, thresholds=text)
    check["evidence"].update(raw=text)
    return document


def _hostile_benchmark(server_id: str, text: str, index: int) -> dict:
    """Hostile text in a benchmark file: server name, figure names, params, failure reasons."""
    figures = [
        # The calibration below has a ceiling over the same hostile protocol: above half of it,
        # so the warning (whose title attribute names the protocol) is drawn.
        synthetic.h2load_figure([9_000.0] * 3, protocol=text, endpoint="json_sync"),
        synthetic.h2load_figure([], protocol="http/1.1", endpoint=f"e{index}", failure=text),
        synthetic.figure("idle-connections", text, {"kind": text}, failure=text),
        synthetic.figure(
            "locust-upstream",
            text,
            {"tool": "locust", "endpoint": text},
            [synthetic.locust_metrics({10: 0.0, 50: 5.0}, 40.0)],
        ),
        synthetic.figure("resources", text, {"load": text}, [{"ready_s": 1.0}]),
    ]
    return synthetic.benchmark(server_id, figures, name=text)


def _hostile_calibration() -> dict:
    figures = [
        synthetic.calibration_figure("h2load", text, 10_000.0) | {"figure": f"cal {text}"}
        for text in HOSTILE
    ]
    for figure in figures:
        figure["params"]["target"] = figure["figure"]
    document = synthetic.benchmark("calibration", figures, name=HOSTILE[0])
    document["setup"] = {"ok": False, "error": HOSTILE[1], "log_tail": HOSTILE[2]}
    return document


def test_hostile_strings_render_inert_on_every_page(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # Ids with no definition in the repository: their data files' own names and summaries are
    # what the site shows (a defined server's text comes from its definition instead).
    servers = [f"hostile-{index}" for index in range(14)]
    runs = [_hostile_run(server, text) for server, text in zip(servers, HOSTILE, strict=False)]
    benchmarks = [
        _hostile_benchmark(server, text, index)
        for index, (server, text) in enumerate(zip(servers, HOSTILE, strict=False))
    ]
    synthetic.write_data(data, runs, [_hostile_calibration(), *benchmarks])
    machine = data / "machines" / f"{synthetic.MACHINE_ID}.json"
    machine.write_text(
        machine.read_text().replace(
            "Synthetic CPU (test fixture)", "<script>alert('INJECT')</script>"
        )
    )
    site = tmp_path / "site"
    completed = synthetic.build_site(data, site)
    assert completed.returncode == 0, completed.stderr
    pages = [
        site / "index.html",
        site / "matrix" / "index.html",
        site / "pick" / "index.html",
        site / "methodology" / "index.html",
        site / "changes" / "index.html",
        site / "servers" / "index.html",
        *(site / "servers" / server / "index.html" for server in servers[: len(HOSTILE)]),
        *(site / "benchmarks").glob("*/index.html"),
        site / "benchmarks" / "index.html",
    ]
    # every scenario page
    assert len(list((site / "benchmarks").glob("*/index.html"))) == len(SCENARIOS)
    for page in pages:
        html = page.read_text()
        assert "INJECT" in html, f"{page} does not show the data at all"
        assert dangerous_markup(html) == [], page
        assert "\x1b" not in html and "\x00" not in html
    h2load = (site / "benchmarks" / "h2load" / "index.html").read_text()
    assert 'class="sd-ceiling"' in h2load  # warnings drawn for figures of hostile protocols
    charts = list((site / "benchmarks" / "charts").glob("*.svg"))
    assert charts
    for chart in charts:
        svg = chart.read_text()
        ET.fromstring(svg)  # still well-formed XML: every text from data was escaped
        assert "<script" not in svg and "<img" not in svg and "<a " not in svg, chart


def test_an_overlong_field_is_refused_with_a_short_message(tmp_path: Path) -> None:
    from harness.validate import validate

    document = synthetic.run("uvicorn", name="INJECT " + "A" * 50_000)
    data = tmp_path / "data"
    synthetic.write_data(data, [])
    target = data / "runs" / synthetic.MACHINE_ID / synthetic.CAPTURE_ID / "uvicorn.json"
    target.parent.mkdir(parents=True)
    target.write_text(__import__("json").dumps(document))
    (line,) = validate(data)
    assert "server/name" in line and "is too long" in line
    assert len(line) < 600


def test_the_markup_finder_finds_what_it_looks_for() -> None:
    page = (
        "<p><script>alert('INJECT')</script><img src=x onerror='alert(INJECT)'>"
        "<a href='javascript:alert(1)'>x</a><strong>INJECT</strong><!-- INJECT --></p>"
    )
    assert len(dangerous_markup(page)) == 6
    assert dangerous_markup("<p>&lt;script&gt;INJECT<a title='\" onerror=INJECT'>x</a></p>") == []
