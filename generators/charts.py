"""Charts as plain SVG files, drawn from data at build time: no JavaScript, no CDN, readable
with no network. Every chart has a title and description (for screen readers), labelled axes
with units and a legend; every text from data is XML-escaped."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

# Distinct colours for up to eight series (Locust's longest step plan has seven); every bar
# also carries its value as text, and the legend names each colour.
PALETTE = (
    "#3f51b5",
    "#ef6c00",
    "#2e7d32",
    "#6a1b9a",
    "#c62828",
    "#00838f",
    "#6d4c41",
    "#ad1457",
)
# 13-unit text: the charts are drawn about 400 units wide and shown at most as wide as the text
# column, so at 390 px (a column of about 358 px) the smallest text is 13 x 358 / 400 = 11.6 px.
FONT = 'font-family="sans-serif" font-size="13"'
# XML 1.0 allows no control characters but tab, newline and carriage return, even escaped.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text(value: object) -> str:
    """Text from data, made safe inside an SVG element."""
    return escape(_CONTROL.sub("", str(value)))


@dataclass(frozen=True)
class Bar:
    label: str  # the category, e.g. a server name
    values: tuple[float | None, ...]  # one per series; None = not measured / failed
    notes: tuple[str, ...] = ()  # shown instead of a bar when the value is None


def _nice_ceiling(value: float) -> float:
    """The smallest "round" number at least ``value``: 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8
    times a power of ten, so an axis ends at most a quarter past the largest value (with 1,
    2, 5 and 10 alone, data that stops at 10.5 got an axis to 20)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if value <= step * power * (1 + 1e-12):
            return step * power
    return 10 * power


def _tick(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"


# A bar's label sits above its bars, not beside them, which leaves the bars the whole width
# of a phone (the browser test measures the text as shown).
BAR_CHART_WIDTH = 400
TITLE_FONT = 'font-family="sans-serif" font-size="14" font-weight="bold"'
WRAP_AT = 58  # characters of 13-unit sans-serif text (about 6 units each) in a chart's line
TITLE_WRAP_AT = 48  # of 14-unit bold text


def _wrapped(text: str, width: int = WRAP_AT) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken at spaces (a longer word
    keeps a line of its own)."""
    lines: list[str] = []
    for word in str(text).split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _text_at(x: float, y: float, text: str, attributes: str = FONT) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" {attributes}>{_text(text)}</text>'


def horizontal_bars(
    title: str,
    description: str,
    bars: list[Bar],
    series: tuple[str, ...],
    unit: str,
    reference: tuple[float, str] | None = None,
    value_format: str = ".2f",
) -> str:
    """Grouped horizontal bars, one group per category under its label; ``reference`` draws a
    labelled line. Each bar is labelled with its value in ``value_format``."""
    width, left, value_room = BAR_CHART_WIDTH, 8, 64
    plot_width = width - left - value_room
    line, bar_height, gap = 17, 15, 12
    title_lines = _wrapped(title, TITLE_WRAP_AT)
    top = 8 + line * len(title_lines) + (line if reference else 0) + 6
    labels = [_wrapped(bar.label) for bar in bars]
    group_heights = [line * len(label) + bar_height * len(series) + gap for label in labels]
    axis_y = top + sum(group_heights)
    # One series needs no legend: the axis says what the bars are.
    legend = [_wrapped(name, WRAP_AT - 3) for name in series] if len(series) > 1 else []
    legend_height = sum(line * len(lines) + 4 for lines in legend)
    height = axis_y + 2 * line + 14 + legend_height + 8
    measured = [v for bar in bars for v in bar.values if v is not None]
    # With nothing measured (every figure failed) the axis still needs a scale to draw.
    scale_max = _nice_ceiling(max([*measured, reference[0] if reference else 0]) or 1.0)
    x = lambda value: left + plot_width * value / scale_max  # noqa: E731

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="t d">',
        f'<title id="t">{_text(title)}</title><desc id="d">{_text(description)}</desc>',
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    for index, text in enumerate(title_lines):
        parts.append(_text_at(left, 8 + line * (index + 1) - 3, text, TITLE_FONT))
    y0 = top
    for bar, label, group_height in zip(bars, labels, group_heights, strict=True):
        for index, text in enumerate(label):
            parts.append(_text_at(left, y0 + line * (index + 1) - 4, text))
        bars_top = y0 + line * len(label)
        for position, value in enumerate(bar.values):
            y = bars_top + position * bar_height
            colour = PALETTE[position % len(PALETTE)]
            if value is None:
                note = bar.notes[position] if position < len(bar.notes) else "not measured"
                if not note:  # left out on purpose; the page lists it under the chart
                    continue
                parts.append(
                    f'<text x="{left + 4}" y="{y + bar_height - 3}" {FONT} '
                    f'fill="{colour}">{_text(note)}</text>'
                )
                continue
            parts.append(
                f'<rect x="{left}" y="{y}" width="{x(value) - left:.1f}" '
                f'height="{bar_height - 2}" fill="{colour}">'
                f"<title>{_text(series[position])}: {value:{value_format}} {_text(unit)}</title>"
                "</rect>"
            )
            parts.append(
                f'<text x="{x(value) + 4:.1f}" y="{y + bar_height - 3}" {FONT}>'
                f"{value:{value_format}}</text>"
            )
        y0 += group_height
    parts.append(
        f'<line x1="{left}" y1="{axis_y}" x2="{left + plot_width}" y2="{axis_y}" stroke="#555"/>'
    )
    for tick in range(0, 5, 2):  # three ticks: 13-unit numbers need the room on a phone
        value = scale_max * tick / 4
        anchor = "start" if tick == 0 else "middle"
        parts.append(
            f'<text x="{x(value):.1f}" y="{axis_y + line}" {FONT} '
            f'text-anchor="{anchor}">{_tick(value)}</text>'
        )
    parts.append(
        f'<text x="{left + plot_width / 2}" y="{axis_y + 2 * line}" {FONT} '
        f'text-anchor="middle">{_text(unit)}</text>'
    )
    if reference:
        value, label = reference
        parts.append(
            f'<line x1="{x(value):.1f}" y1="{top - 4}" x2="{x(value):.1f}" '
            f'y2="{axis_y}" stroke="#999" stroke-dasharray="4 3"/>'
        )
        parts.append(
            f'<text x="{x(value):.1f}" y="{top - 8}" {FONT} fill="#555">{_text(label)}</text>'
        )
    legend_y = axis_y + 2 * line + 14
    for position, lines in enumerate(legend):
        parts.append(
            f'<rect x="{left}" y="{legend_y}" width="14" height="14" '
            f'fill="{PALETTE[position % len(PALETTE)]}"/>'
        )
        for index, text in enumerate(lines):
            parts.append(_text_at(left + 20, legend_y + 12 + line * index, text))
        legend_y += line * len(lines) + 4
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _batch_wall(result: dict | None, size: int) -> tuple[float | None, str]:
    """Median wall time of the batch of ``size`` requests in a concurrency result."""
    if result is None:
        return None, "not measured"
    for batch in result["evidence"].get("batches", []):
        if batch.get("n") == size:
            if batch.get("classification") == "failed":
                return None, f"{batch.get('failed_requests')} of {size} requests failed"
            return batch.get("median_wall_s"), ""
    return None, result["outcome"]


def concurrency_chart(runs: list[dict]) -> str:
    """Ten parallel 1-second requests per server: how long until all ten were answered."""
    bars = []
    for run in runs:
        results = {check["id"]: check for check in run["checks"]}
        sync, sync_note = _batch_wall(results.get("concurrency-sync-sleep"), 10)
        async_, async_note = _batch_wall(results.get("concurrency-async-sleep"), 10)
        bars.append(Bar(run["server"]["name"], (sync, async_), (sync_note, async_note)))
    return horizontal_bars(
        "Ten parallel 1-second requests: time until all were answered",
        "For each server configuration, the median wall time of ten simultaneous requests to "
        "a view that sleeps one second, for a sync view and an async view. One second means "
        "fully concurrent; ten seconds means one request at a time.",
        bars,
        ("sync view (time.sleep)", "async view (asyncio.sleep)"),
        "seconds (lower is better)",
        reference=(1.0, "1 s: all at once"),
    )


# Latency percentiles on a "nines" axis: p50, p90, p99 and p99.9 equally spaced in -log10(1-p).
PERCENTILE_POSITIONS = {0.5: -math.log10(0.5), 0.9: 1.0, 0.99: 2.0, 0.999: 3.0}


def percentile_curves(
    title: str, description: str, lines: list[tuple[str, list[float | None]]], unit: str
) -> str:
    """A small chart of latency percentile curves (p50 to p99.9, one line per series) with a
    logarithmic latency axis; a None value (withheld or not measured) leaves a gap."""
    width, height, left, right, top, bottom = 380, 250, 58, 16, 34, 86
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, series in lines for v in series if v is not None and v > 0]
    low = 10 ** math.floor(math.log10(min(values))) if values else 1.0
    high = 10 ** math.ceil(math.log10(max(values))) if values else 10.0
    high = high * 10 if high <= low else high
    nines = list(PERCENTILE_POSITIONS.values())
    x = lambda pos: left + plot_w * (pos - nines[0]) / (nines[-1] - nines[0])  # noqa: E731
    y = lambda v: top + plot_h * (1 - math.log10(v / low) / math.log10(high / low))  # noqa: E731
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="t d">',
        f'<title id="t">{_text(title)}</title><desc id="d">{_text(description)}</desc>',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="8" y="18" {FONT} font-weight="bold">{_text(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#555"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#555"/>',
    ]
    for share, pos in PERCENTILE_POSITIONS.items():
        label = f"p{share * 100:g}"
        parts.append(
            f'<text x="{x(pos):.1f}" y="{top + plot_h + 15}" {FONT} text-anchor="middle">'
            f"{label}</text>"
        )
    decade = low
    while decade <= high * (1 + 1e-9):
        parts.append(
            f'<line x1="{left}" y1="{y(decade):.1f}" x2="{left + plot_w}" y2="{y(decade):.1f}" '
            'stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{left - 4}" y="{y(decade) + 4:.1f}" {FONT} text-anchor="end">'
            f"{_tick(decade)}</text>"
        )
        decade *= 10
    parts.append(
        f'<text x="12" y="{top + plot_h / 2:.1f}" {FONT} text-anchor="middle" '
        f'transform="rotate(-90 12 {top + plot_h / 2:.1f})">{_text(unit)}</text>'
    )
    for index, (name, series) in enumerate(lines):
        colour = PALETTE[index % len(PALETTE)]
        points = [
            (x(pos), y(value), share, value)
            for (share, pos), value in zip(PERCENTILE_POSITIONS.items(), series, strict=True)
            if value is not None and value > 0
        ]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        for px, py, share, value in points:
            parts.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}">'
                f"<title>{_text(name)}, p{share * 100:g}: {value:,.2f} {_text(unit)}</title>"
                "</circle>"
            )
        legend_y = top + plot_h + 32 + 16 * index
        parts.append(
            f'<rect x="{left}" y="{legend_y - 10}" width="12" height="12" fill="{colour}"/>'
        )
        parts.append(f'<text x="{left + 18}" y="{legend_y}" {FONT}>{_text(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
