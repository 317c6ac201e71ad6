"""Charts as plain SVG files, drawn from data at build time: no JavaScript, no CDN, readable
with no network. Every chart has a title and description (for screen readers), labelled axes
with units and a legend; every text from data is XML-escaped."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

PALETTE = ("#3f51b5", "#ef6c00", "#2e7d32", "#6a1b9a")
FONT = 'font-family="sans-serif" font-size="12"'


@dataclass(frozen=True)
class Bar:
    label: str  # the category, e.g. a server name
    values: tuple[float | None, ...]  # one per series; None = not measured / failed
    notes: tuple[str, ...] = ()  # shown instead of a bar when the value is None


def _nice_ceiling(value: float) -> float:
    for step in (1, 2, 2.5, 5, 10, 20, 25, 50, 100, 200, 500, 1000):
        if value <= step:
            return float(step)
    return float(value)


def horizontal_bars(
    title: str,
    description: str,
    bars: list[Bar],
    series: tuple[str, ...],
    unit: str,
    reference: tuple[float, str] | None = None,
) -> str:
    """Grouped horizontal bars, one group per category; ``reference`` draws a labelled line."""
    label_width, plot_width, bar_height, gap = 230, 420, 12, 10
    group_height = bar_height * len(series) + gap
    top, legend_height = 40, 22 * len(series) + 10
    height = top + group_height * len(bars) + 40 + legend_height
    width = label_width + plot_width + 60
    measured = [v for bar in bars for v in bar.values if v is not None]
    scale_max = _nice_ceiling(max([*measured, reference[0] if reference else 0, 1e-9]))
    x = lambda value: label_width + plot_width * value / scale_max  # noqa: E731

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="t d">',
        f'<title id="t">{escape(title)}</title><desc id="d">{escape(description)}</desc>',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{label_width}" y="20" {FONT} font-weight="bold">{escape(title)}</text>',
    ]
    for index, bar in enumerate(bars):
        y0 = top + index * group_height
        parts.append(
            f'<text x="{label_width - 8}" y="{y0 + bar_height * len(series) / 2 + 4}" '
            f'{FONT} text-anchor="end">{escape(bar.label)}</text>'
        )
        for position, value in enumerate(bar.values):
            y = y0 + position * bar_height
            colour = PALETTE[position % len(PALETTE)]
            if value is None:
                note = bar.notes[position] if position < len(bar.notes) else "not measured"
                parts.append(
                    f'<text x="{label_width + 4}" y="{y + bar_height - 2}" {FONT} '
                    f'fill="{colour}">{escape(note)}</text>'
                )
                continue
            parts.append(
                f'<rect x="{label_width}" y="{y}" width="{x(value) - label_width:.1f}" '
                f'height="{bar_height - 2}" fill="{colour}">'
                f"<title>{escape(series[position])}: {value:.2f} {escape(unit)}</title>"
                "</rect>"
            )
            parts.append(
                f'<text x="{x(value) + 4:.1f}" y="{y + bar_height - 3}" {FONT}>{value:.2f}</text>'
            )
    axis_y = top + group_height * len(bars)
    parts.append(
        f'<line x1="{label_width}" y1="{axis_y}" x2="{label_width + plot_width}" '
        f'y2="{axis_y}" stroke="#555"/>'
    )
    for tick in range(6):
        value = scale_max * tick / 5
        parts.append(
            f'<text x="{x(value):.1f}" y="{axis_y + 15}" {FONT} '
            f'text-anchor="middle">{value:g}</text>'
        )
    parts.append(
        f'<text x="{label_width + plot_width / 2}" y="{axis_y + 32}" {FONT} '
        f'text-anchor="middle">{escape(unit)}</text>'
    )
    if reference:
        value, label = reference
        parts.append(
            f'<line x1="{x(value):.1f}" y1="{top - 6}" x2="{x(value):.1f}" '
            f'y2="{axis_y}" stroke="#999" stroke-dasharray="4 3"/>'
        )
        parts.append(
            f'<text x="{x(value) + 3:.1f}" y="{top - 8}" {FONT} fill="#555">{escape(label)}</text>'
        )
    legend_y = axis_y + 48
    for position, name in enumerate(series):
        y = legend_y + position * 22
        parts.append(
            f'<rect x="{label_width}" y="{y}" width="14" height="14" '
            f'fill="{PALETTE[position % len(PALETTE)]}"/>'
        )
        parts.append(f'<text x="{label_width + 20}" y="{y + 12}" {FONT}>{escape(name)}</text>')
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
