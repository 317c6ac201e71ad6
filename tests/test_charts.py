"""Charts are SVG drawn from data: sizes follow the values, data text is escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from generators.charts import Bar, concurrency_chart, horizontal_bars, percentile_curves
from tests import synthetic

SVG = "{http://www.w3.org/2000/svg}"


def _bar_widths(svg: str) -> list[float]:
    root = ET.fromstring(svg)
    return [
        float(rect.get("width"))
        for rect in root.iter(f"{SVG}rect")
        if rect.find(f"{SVG}title") is not None
    ]


def test_bar_lengths_are_proportional_to_values() -> None:
    svg = horizontal_bars("t", "d", [Bar("a", (1.0,)), Bar("b", (4.0,))], ("s",), "seconds")
    small, large = _bar_widths(svg)
    assert large == 4 * small


def test_missing_values_show_their_reason_instead_of_a_bar() -> None:
    svg = horizontal_bars(
        "t", "d", [Bar("a", (None,), ("2 of 10 requests failed",))], ("s",), "seconds"
    )
    assert _bar_widths(svg) == []
    assert "2 of 10 requests failed" in svg


def test_text_from_data_is_escaped_and_the_chart_is_accessible() -> None:
    svg = horizontal_bars("<script>", "d", [Bar("<b>x</b>", (1.0,))], ("s&p",), "seconds")
    root = ET.fromstring(svg)  # well-formed XML despite the hostile text
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "<script>"
    assert "<b>" not in svg and "<script>" not in svg


def test_the_concurrency_chart_reads_the_ten_request_batches() -> None:
    run = synthetic.run("uvicorn")
    run["checks"][0]["evidence"]["batches"] = [
        {"n": 2, "median_wall_s": 1.0, "classification": "concurrent"},
        {"n": 10, "median_wall_s": 2.0, "classification": "limited"},
    ]
    svg = concurrency_chart([run])
    assert "2.00" in svg
    assert "not measured" in svg  # the synthetic run has no async concurrency result


def test_bars_no_capture_measured_are_listed_once_not_drawn_empty(tmp_path) -> None:
    from evidence.validation import load_evidence
    from generators.render import render_pages

    # gunicorn-sync has 1 and 200 clients; alpha only 200: its 1-client bar is not in its plan.
    sweep = [synthetic.h2load_figure([500.0] * 3, clients=c) for c in (1, 200)]
    only_200 = [synthetic.h2load_figure([400.0] * 3, clients=200)]
    synthetic.write_data(
        tmp_path,
        [synthetic.run("alpha"), synthetic.run("beta", name="Beta")],
        [
            synthetic.benchmark("alpha", sweep),
            synthetic.benchmark("beta", only_200, name="Beta"),
        ],
    )
    pages = render_pages(load_evidence(tmp_path))
    charts = [svg for name, svg in pages.items() if name.startswith("benchmarks/charts/h2load")]
    assert charts and not any("not measured" in svg for svg in charts)
    # The note names what the chart is of, so that it cannot deny rows of another view.
    assert (
        "No bar where the shown captures have no figure of json\\_sync over http/1\\.1: "
        "Beta: 1 client." in pages["benchmarks/h2load.md"]
    )


def test_percentile_curves_place_each_decade_alike_and_leave_gaps_for_missing_values() -> None:
    svg = percentile_curves(
        "<b>curves</b>",
        "d",
        [("25 % <i>", [1.0, 10.0, 100.0, None]), ("75 %", [None, None, None, None])],
        "ms",
    )
    root = ET.fromstring(svg)  # well-formed: the data text is escaped
    points = [
        (float(c.get("cx")), float(c.get("cy")), c.find(f"{SVG}title").text)
        for c in root.iter(f"{SVG}circle")
    ]
    assert [title.split(":")[0] for _, _, title in points] == [
        "25 % <i>, p50",
        "25 % <i>, p90",
        "25 % <i>, p99",
    ]  # p99.9 and the whole second series are missing: no point, no invented value
    (x50, y1, _), (x90, y10, _), (x99, y100, _) = points
    # Coordinates are written to 0.1 px.
    assert abs((y1 - y10) - (y10 - y100)) <= 0.2  # one decade, one step: a log axis
    assert abs((x99 - x90) - (x90 - x50) / (1 - 0.30103)) <= 0.2  # p50, p90, p99 on nines
    assert len(list(root.iter(f"{SVG}polyline"))) == 1
    assert "<b>" not in svg and "&lt;b&gt;curves" in svg
