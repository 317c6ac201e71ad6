"""Do two interleaved captures agree? The rank order of the configurations within each
interface, in the newest interleaved capture of a machine and in the newest earlier one of
the same profile, at each client count, with Django's default middleware stack.

A rank is the one the index's rankings give (``headlines.rank``: a configuration shares the
rank of the best of its tier while their ranges over rounds overlap), so two captures agree
when each configuration holds the same rank in both; where they do not, the page shows each
configuration's rank and median in both, and by how much its median moved. A configuration
measured with another setup in the two (worker count...) is not compared: it is named.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evidence.setups import figure_setup_differences
from generators.benchmarks.figure import Figure
from generators.benchmarks.figures import BenchmarkFile, MachineBenchmarks
from generators.benchmarks.headlines import HIGHER, rank

RATE = "answered_per_s"


@dataclass(frozen=True)
class Placement:
    name: str
    ranks: tuple[int, int]  # earlier capture, newer capture
    medians: tuple[float, float]

    @property
    def moved_percent(self) -> float:
        return (self.medians[1] - self.medians[0]) / self.medians[0] * 100


@dataclass(frozen=True)
class Agreement:
    interface: str
    clients: int
    placements: list[Placement]  # in the newer capture's order
    other_setup: list[str]  # configurations measured with another setup: not compared

    @property
    def same_order(self) -> bool:
        return all(p.ranks[0] == p.ranks[1] for p in self.placements)


@dataclass(frozen=True)
class Comparison:
    captures: tuple[str, str]  # earlier, newer
    hours_apart: float
    agreements: list[Agreement]


def _started(file: BenchmarkFile) -> datetime:
    return datetime.fromisoformat(str(file.document["started_at"]).replace("Z", "+00:00"))


def _compared(figure: Figure) -> bool:
    return (
        figure.ok
        and not figure.params.get("reference")
        and figure.server.get("mode") != "development"
        and figure.params.get("middleware_stack") in (None, "production")
        and figure.metric(RATE) is not None
    )


def _by_point(file: BenchmarkFile) -> dict[tuple[str, int, str], Figure]:
    return {
        (str(f.server.get("interface")), int(f.params["clients"]), str(f.server["id"])): f
        for f in file.figures
        if _compared(f) and isinstance(f.params.get("clients"), int)
    }


def _ranks(figures: list[Figure]) -> dict[str, int]:
    measured = []
    for figure in figures:
        spread = figure.record["spread"].get(RATE) or {}
        value = figure.metric(RATE)
        assert value is not None
        measured.append((figure, value, spread.get("min", value), spread.get("max", value), ""))
    return {one.figure.server["id"]: one.rank for one in rank(measured, HIGHER)}


def comparison(mb: MachineBenchmarks) -> Comparison | None:
    """The newest interleaved capture of ``mb`` against the newest earlier one of its profile;
    None when there is no such pair."""
    files = sorted(mb.interleaved_by_capture.values(), key=_started)
    if len(files) < 2:
        return None
    newer = files[-1]
    earlier = next(
        (f for f in reversed(files[:-1]) if f.document["profile"] == newer.document["profile"]),
        None,
    )
    if earlier is None:
        return None
    before, after = _by_point(earlier), _by_point(newer)
    points = sorted(
        {(interface, clients) for interface, clients, _ in before.keys() & after.keys()}
    )
    agreements = []
    for interface, clients in points:
        ids = sorted(
            server_id
            for i, c, server_id in before.keys() & after.keys()
            if (i, c) == (interface, clients)
        )
        same = [
            s
            for s in ids
            if not figure_setup_differences(
                before[(interface, clients, s)].params, after[(interface, clients, s)].params
            )
        ]
        if len(same) < 2:
            continue
        pair = [[side[(interface, clients, s)] for s in same] for side in (before, after)]
        ranks = [_ranks(figures) for figures in pair]
        placements = [
            Placement(
                str(after[(interface, clients, s)].server["name"]),
                (ranks[0][s], ranks[1][s]),
                (
                    before[(interface, clients, s)].metric(RATE) or 0.0,
                    after[(interface, clients, s)].metric(RATE) or 0.0,
                ),
            )
            for s in same
        ]
        placements.sort(key=lambda p: (p.ranks[1], -p.medians[1]))
        other = [str(after[(interface, clients, s)].server["name"]) for s in ids if s not in same]
        agreements.append(Agreement(interface, clients, placements, other))
    hours = (_started(newer) - _started(earlier)).total_seconds() / 3600
    return Comparison((earlier.document["capture"], newer.document["capture"]), hours, agreements)


def template_globals() -> dict[str, Any]:
    return {"interleaved_comparison": comparison}
