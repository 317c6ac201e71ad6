"""The bar charts of the benchmark pages, drawn from figures (SVG by ``generators.charts``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from generators.benchmarks.cells import present, scaled, step_users, unit_of
from generators.benchmarks.figure import Figure
from generators.charts import Bar, horizontal_bars, percentile_curves


@dataclass(frozen=True)
class Chart:
    title: str  # from data in part: escaped wherever it is shown
    svg: str
    # "Server: series, series" for bars no shown file has a figure for: no empty "not
    # measured" bar is drawn; the page lists them once under the chart, within ``scope``
    # (what the chart is of: "json_sync over http/1.1"), so the list cannot be read as
    # saying that rows of another view below it were not measured.
    left_out: tuple[str, ...] = ()
    scope: str = ""


@dataclass(frozen=True)
class Series:
    """One bar per group: ``metric`` of the group's figure whose params include ``match``."""

    label: str
    metric: str
    match: tuple[tuple[str, Any], ...] = ()


def figures_chart(
    title: str,
    description: str,
    figures: list[Figure],
    series: list[Series],
    axis: str,
    reference: tuple[float, str] | None = None,
    by: str = "server",
    scope: str = "",
    rate_param: str = "",
) -> Chart:
    """Grouped bars, one group per server (or per figure), in table order; a failed figure
    shows "failed" where its bar would be. With ``rate_param``, each group's label also says
    the rate its figure was measured at (a fixed rate that differs per server)."""
    groups: dict[tuple[str, str], list[Figure]] = {}
    for figure in figures:
        # A server's variants (other thread counts...) are bars of their own.
        variant = str(figure.params.get("variant", ""))
        key = (figure.server["id"], variant) if by == "server" else (figure.record["figure"], "")
        groups.setdefault(key, []).append(figure)
    bars = []
    left_out = []
    for group in groups.values():
        values: list[float | None] = []
        notes: list[str] = []
        missing = []
        for one in series:
            found = next(
                (f for f in group if all(f.params.get(k) == v for k, v in one.match)), None
            )
            value = found.metric(one.metric) if found and found.ok else None
            if (
                found is not None
                and found.ok
                and (found.counts_failures(one.metric) or found.unobservable(one.metric))
            ):
                value = None  # not a throughput, or a latency the run could not observe
            values.append(None if value is None else scaled(value, one.metric))
            notes.append(_why_no_bar(found, one.metric))
            if found is None:
                missing.append(one.label)
        label = group[0].server["name"] if by == "server" else group[0].record["figure"]
        if variant := group[0].params.get("variant"):
            label = f"{label}, {variant}"
        rate = group[0].params.get(rate_param) if rate_param else None
        if isinstance(rate, int | float):
            label = f"{label}, at {rate:,.0f} requests/s"
        bars.append(Bar(label, tuple(values), tuple(notes)))
        if missing:
            left_out.append(f"{label}: {', '.join(missing)}")
    units = {unit_of(one.metric) for one in series}
    big = any(v is not None and v >= 100 for bar in bars for v in bar.values)
    svg = horizontal_bars(
        title,
        description,
        bars,
        tuple(one.label for one in series),
        axis,
        reference=reference,
        value_format=",.0f" if big and not units & {"%", "×"} else ".2f",
    )
    return Chart(title, svg, tuple(left_out), scope)


def _why_no_bar(found: Figure | None, metric: str) -> str:
    if found is None:
        return ""  # not in the capture's plan: listed once under the chart, no empty bar
    if not found.ok:
        return found.failed_word
    if found.counts_failures(metric):
        return f"no throughput: {found.failed_share(metric):.0f} % failed"
    if found.unobservable(metric):
        return "not observable in the window"
    return "n/a"


def series_label(value: Any, param: str) -> str:
    """A bar's label for one value of a parameter: "1 client", "200 clients", "sse"."""
    if not isinstance(value, int) or isinstance(value, bool):
        return str(value)
    return f"{value} {param.removesuffix('s') if value == 1 else param}"


def by_param_chart(
    title: str,
    description: str,
    figures: list[Figure],
    metric: str,
    param: str,
    axis: str,
    scope: str = "",
) -> Chart:
    """One bar per value of a parameter (clients, kind), per server."""
    values = sorted(
        {f.params[param] for f in figures if param in f.params},
        key=lambda value: (isinstance(value, str), value),
    )
    series = [Series(series_label(value, param), metric, ((param, value),)) for value in values]
    return figures_chart(title, description, figures, series, axis, scope=scope)


def metrics_chart(
    title: str,
    description: str,
    figures: list[Figure],
    metrics: list[tuple[str, str]],
    axis: str,
    reference: tuple[float, str] | None = None,
    rate_param: str = "",
) -> Chart:
    """One bar per metric (p50, p95, p99 ...) that some figure reports, per server."""
    series = [Series(label, metric) for label, metric in present(figures, metrics)]
    return figures_chart(
        title, description, figures, series, axis, reference, rate_param=rate_param
    )


def steps_chart(title: str, description: str, figures: list[Figure], base: str, axis: str) -> Chart:
    """One bar per Locust step (users), per server."""
    series = []
    for users in step_users(figures, base):
        names = {f.steps(base).get(users) for f in figures} - {None}
        series.append(Series(f"{users} users", sorted(names)[0]))
    return figures_chart(title, description, figures, series, axis)


def calibration_chart(title: str, description: str, figures: list[Figure]) -> Chart:
    series = [Series("requests/s", "requests_per_s")]
    return figures_chart(title, description, figures, series, "requests/s", by="figure")


def most_clients(figures: list[Figure]) -> list[Figure]:
    """Each server's figure with the most concurrent clients."""
    best: dict[str, Figure] = {}
    for figure in figures:
        clients = figure.params.get("clients")
        current = best.get(figure.server["id"])
        if isinstance(clients, int) and (
            current is None or clients > current.params.get("clients", 0)
        ):
            best[figure.server["id"]] = figure
    return list(best.values())


def first_metric(figures: list[Figure], *names: str) -> str:
    """The first of ``names`` that some figure reports (metric names of one tool may change)."""
    for name in names:
        if any(name in figure.record["metrics"] for figure in figures):
            return name
    return names[0]


CURVE_METRICS = ("latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "latency_p99_9_ms")


def percentile_curve_chart(title: str, description: str, figures: list[Figure]) -> Chart:
    """One server's latency percentile curves, p50 to p99.9, one line per fixed rate; a
    percentile the run could not observe (or that is not a number) leaves a gap."""
    lines = []
    for figure in sorted(figures, key=lambda f: f.params.get("fraction_of_maximum") or 0):
        fraction = figure.params.get("fraction_of_maximum")
        rate = figure.params.get("target_requests_per_s")
        name = (
            f"{fraction * 100:g} % ({rate:,.0f} req/s)"
            if fraction and rate
            else figure.record["figure"]
        )
        values = [
            figure.metric(metric)
            if figure.ok and not figure.unobservable(metric) and not figure.unanswered(metric)
            else None
            for metric in CURVE_METRICS
        ]
        lines.append((name, values))
    return Chart(title, percentile_curves(title, description, lines, "ms"))
