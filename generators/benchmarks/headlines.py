"""The benchmark index's answers: one ranking per question, and the takeaways they support.

Each ranking is of one machine's newest figures of one kind, production configurations only
(a development server is not a choice for serving traffic): how many requests a configuration
answers (the interleaved rounds: every configuration measured in the same rounds, Django's
default middleware), how long the slowest requests take at a fixed rate (the fixed-rate
scenario's p99 at half the configuration's own maximum, shown with that rate), and how much
memory each worker process holds at its peak under load.

Ties are decided by the figures' spread, never by name: a configuration shares the rank of
the one above it when their ranges over repeats (or rounds) overlap, so "1 (tie)" names every
configuration the figures cannot tell apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from generators.benchmarks.figure_charts import Chart
from generators.benchmarks.figures import Figure, MachineBenchmarks
from generators.charts import Bar, horizontal_bars

HIGHER, LOWER = "higher", "lower"
# The fixed-rate figure ranked: a share of each configuration's own closed-loop maximum (the
# scenario's rates are relative). Half is where a server still keeps up with room to spare.
FIXED_RATE_SHARE = 0.5
MIB = 2**20


@dataclass(frozen=True)
class Ranked:
    figure: Figure
    value: float
    low: float  # the figure's range over its repeats or rounds (the value when it has none)
    high: float
    rank: int
    tied: bool  # shares its rank with another configuration
    note: str = ""  # what the value was measured at, when it differs per configuration

    @property
    def name(self) -> str:
        return str(self.figure.server["name"])

    @property
    def interface(self) -> str:
        return str(self.figure.server.get("interface", ""))


@dataclass(frozen=True)
class Ranking:
    key: str  # anchor and chart file stem
    question: str
    lead: str  # what leading this ranking means, to open a takeaway
    measure: str  # what the value is, with its unit: the chart's axis
    unit: str
    better: str  # HIGHER or LOWER
    scope: str  # what was measured, in words: clients, stack, capture
    ranked: list[Ranked]
    failed: list[Figure]  # measured but without a figure, each with its reason on its page
    page: str  # the scenario page with every figure

    def leaders(self) -> list[Ranked]:
        return [one for one in self.ranked if one.rank == 1]


def _production(figure: Figure) -> bool:
    return figure.server.get("mode") != "development" and not figure.params.get("reference")


def _range(figure: Figure, metric: str, scale: float) -> tuple[float, float]:
    spread = figure.record["spread"].get(metric) or {}
    value = figure.metric(metric)
    assert value is not None
    low, high = spread.get("min"), spread.get("max")
    low = low if isinstance(low, int | float) else value
    high = high if isinstance(high, int | float) else value
    return low / scale, high / scale


def rank(measured: list[tuple[Figure, float, float, float, str]], better: str) -> list[Ranked]:
    """(figure, value, low, high, note) ranked best first: each joins the rank of the best
    configuration of its rank while their ranges overlap, otherwise starts the next rank."""
    order = sorted(measured, key=lambda one: -one[1] if better == HIGHER else one[1])
    ranked: list[Ranked] = []
    leader: tuple[float, float] | None = None
    rank_number = 0
    for position, (figure, value, low, high, note) in enumerate(order):
        overlaps = leader is not None and (
            high >= leader[0] if better == HIGHER else low <= leader[1]
        )
        if not overlaps:
            rank_number, leader = position + 1, (low, high)
        ranked.append(Ranked(figure, value, low, high, rank_number, False, note))
    counts: dict[int, int] = {}
    for one in ranked:
        counts[one.rank] = counts.get(one.rank, 0) + 1
    return [
        Ranked(o.figure, o.value, o.low, o.high, o.rank, counts[o.rank] > 1, o.note) for o in ranked
    ]


def _split(
    figures: list[Figure], metric: str, scale: float = 1.0, note=lambda figure: ""
) -> tuple[list[tuple[Figure, float, float, float, str]], list[Figure]]:
    measured, failed = [], []
    for figure in figures:
        value = figure.metric(metric) if figure.ok else None
        if value is None or figure.counts_failures(metric) or figure.unobservable(metric):
            failed.append(figure)
            continue
        low, high = _range(figure, metric, scale)
        measured.append((figure, value / scale, low, high, note(figure)))
    return measured, failed


def throughput(mb: MachineBenchmarks) -> Ranking | None:
    """Answered requests/s in the newest interleaved rounds, at their largest client count,
    with Django's default middleware stack (the stack a project runs)."""
    figures = [
        f
        for f in mb.figures("interleaved")
        if _production(f) and f.params.get("middleware_stack") in (None, "production")
    ]
    if mb.interleaved is not None:
        capture = mb.interleaved.document["capture"]
        figures = [f for f in figures if f.capture == capture]
    clients = [c for f in figures if isinstance(c := f.params.get("clients"), int)]
    if not clients:
        return None
    most = max(clients)
    figures = [f for f in figures if f.params.get("clients") == most]
    measured, failed = _split(figures, "answered_per_s")
    stacks = {f.params.get("middleware_stack") for f in figures}
    stack = ", Django's default middleware" if "production" in stacks else ""
    return Ranking(
        "throughput",
        "Which configuration answers the most requests?",
        "Most requests answered",
        "answered requests/s (higher is better)",
        "/s",
        HIGHER,
        f"{most} concurrent clients on the view of each interface{stack}, every configuration "
        f"in the same interleaved rounds (capture {figures[0].capture})",
        rank(measured, HIGHER),
        failed,
        "interleaved.md",
    )


def latency(mb: MachineBenchmarks) -> Ranking | None:
    """p99 latency at a fixed rate: half of each configuration's own maximum, on the view
    most configurations were measured on, the rate itself shown beside each."""
    figures = [
        f
        for f in mb.figures("fixed-rate-latency")
        if _production(f) and f.params.get("fraction_of_maximum") == FIXED_RATE_SHARE
    ]
    # Each configuration on the view written for its interface (a sync view for WSGI, an
    # async one for ASGI), as the interleaved rounds measure it.
    own_view = {"wsgi": "json_sync", "asgi": "json_async"}
    figures = [
        f for f in figures if f.params.get("endpoint") == own_view.get(f.server.get("interface"))
    ]
    if not figures:
        return None

    def rate(figure: Figure) -> str:
        target = figure.params.get("target_requests_per_s")
        return f"at {target:,.0f} requests/s" if isinstance(target, int | float) else ""

    measured, failed = _split(figures, "latency_p99_ms", note=rate)
    return Ranking(
        "latency",
        "Which configuration keeps its slowest requests fastest?",
        "Fastest slowest requests (p99 at a fixed rate)",
        "p99 latency in ms (lower is better)",
        "ms",
        LOWER,
        "p99 of requests sent at a fixed rate (open model) of half each configuration's own "
        "maximum, on the view of its interface; the rate is shown beside each, since it differs",
        rank(measured, LOWER),
        failed,
        "fixed-rate-latency.md",
    )


def memory(mb: MachineBenchmarks) -> Ranking | None:
    """Peak memory (PSS) of the server's process tree under load, per worker process."""
    figures = [f for f in mb.figures("resources") if _production(f)]
    if not figures:
        return None
    measured, failed = [], []
    for figure in figures:
        value = figure.metric("peak_memory_pss_bytes") if figure.ok else None
        workers = figure.params.get("workers")
        if value is None or not isinstance(workers, int) or workers < 1:
            failed.append(figure)
            continue
        per_worker = value / workers / MIB
        note = f"{workers} worker{'s' if workers != 1 else ''}"
        measured.append((figure, per_worker, per_worker, per_worker, note))
    return Ranking(
        "memory",
        "Which configuration needs the least memory per worker?",
        "Least memory per worker",
        "MiB per worker process at peak (lower is better)",
        "MiB",
        LOWER,
        "peak proportional set size (PSS: shared pages counted once) of the whole process "
        "tree during the h2load sweep, divided by its worker processes (the master's share "
        "included)",
        rank(measured, LOWER),
        failed,
        "resources.md",
    )


def rankings(mb: MachineBenchmarks) -> list[Ranking]:
    return [one for one in (throughput(mb), latency(mb), memory(mb)) if one is not None]


def _names(ranked: list[Ranked]) -> str:
    names = [one.name for one in ranked]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _value(value: float, unit: str) -> str:
    number = f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
    return f"{number} {unit}" if unit != "/s" else f"{number} answered/s"


def takeaways(found: list[Ranking]) -> list[str]:
    """Two or three sentences computed from the rankings: who leads each, and the gap
    between the interfaces where the throughput ranking has both."""
    sentences = []
    for ranking in found:
        leaders = ranking.leaders()
        if not leaders:
            continue
        best = leaders[0]
        tie = " (tied: the figures' ranges overlap)" if len(leaders) > 1 else ""
        last = ranking.ranked[-1]
        gap = ""
        if last.rank != best.rank and last.value and best.value:
            ratio = best.value / last.value if ranking.better == HIGHER else last.value / best.value
            gap = f"; the last, {last.name}, {_value(last.value, ranking.unit)} ({ratio:.1f}x)"
        sentences.append(
            f"{ranking.lead}: {_names(leaders)}{tie}, {_value(best.value, ranking.unit)}{gap}."
        )
    through = next((one for one in found if one.key == "throughput"), None)
    if through is not None:
        fastest = {
            interface: next((one for one in through.ranked if one.interface == interface), None)
            for interface in ("wsgi", "asgi")
        }
        wsgi, asgi = fastest["wsgi"], fastest["asgi"]
        if wsgi is not None and asgi is not None and asgi.value:
            sentences.append(
                f"The fastest WSGI configuration ({wsgi.name}, {_value(wsgi.value, '/s')}) "
                f"answered {wsgi.value / asgi.value:.1f}x as many requests as the fastest ASGI "
                f"one ({asgi.name}, {_value(asgi.value, '/s')}) on this project's views; the "
                "interleaved page shows how much of that gap is Django's middleware."
            )
    return sentences


def ranking_chart(ranking: Ranking, machine_id: str) -> Chart:
    """The ranking as bars, best first, each labelled with its rank ("2 (tie)") and what it
    was measured at; configurations without a figure last, with why."""
    bars = [
        Bar(
            f"{one.rank}{' (tie)' if one.tied else ''}. {one.name}"
            + (f", {one.note}" if one.note else ""),
            (one.value,),
        )
        for one in ranking.ranked
    ]
    bars += [
        Bar(figure.server["name"], (None,), (figure.failed_word,)) for figure in ranking.failed
    ]
    big = any(one.value >= 100 for one in ranking.ranked)
    svg = horizontal_bars(
        f"{ranking.question} (machine {machine_id})",
        f"{ranking.measure}, one bar per configuration, best first: {ranking.scope}.",
        bars,
        (ranking.measure.split(" (")[0],),
        ranking.measure,
        value_format=",.0f" if big else ".1f",
    )
    return Chart(ranking.question, svg)


def template_globals() -> dict[str, Any]:
    return {"rankings": rankings, "takeaways": takeaways, "ranking_chart": ranking_chart}
