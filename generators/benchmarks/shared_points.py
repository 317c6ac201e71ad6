"""One figure per point: where the interleaved rounds and the h2load scenario of one capture
measured the same thing, the h2load page shows the rounds' figure.

Both scenarios measure each configuration's own JSON view over HTTP/1.1 at the interleaved
client counts: the h2load scenario one configuration after another, the rounds every
configuration in each round. In capture 20261205T054906Z the two gave gunicorn-gthread 2,762
and 1,875 answered/s at 200 clients and put the ASGI servers in different orders, so the site
said two things about one point. The rounds' figure is the one the site compares servers by
(they share the machine's drift), so the h2load page cites it there, marked as the rounds';
the h2load scenario's own figure of that point stays in its data file and download. A point
whose rounds failed keeps the h2load figure (a failure in the rounds is shown on their page).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from generators.benchmarks.figures import Figure, MachineBenchmarks

INTERLEAVED = "interleaved"
H2LOAD = "h2load"  # the only scenario whose figures stand for the same points


def _point(figure: Figure) -> tuple[Any, ...]:
    """What a figure measured: configuration, view, protocol, clients, middleware stack and
    worker processes (a figure from before stacks were varied ran the production one)."""
    params = figure.params
    stack = "none" if params.get("middleware_stack") == "none" else "production"
    return (
        figure.server["id"],
        params.get("endpoint"),
        params.get("protocol"),
        params.get("clients"),
        stack,
        params.get("workers"),
    )


@dataclass(frozen=True)
class SharedPoints:
    """The h2load figures with the rounds' figure at each shared point, and which points."""

    figures: list[Figure]
    cited: list[Figure]  # the rounds' figures now shown in place of the h2load ones

    @property
    def clients(self) -> list[int]:
        return sorted({figure.params["clients"] for figure in self.cited})

    @property
    def captures(self) -> list[str]:
        return sorted({figure.capture for figure in self.cited})

    @property
    def rounds(self) -> list[int]:
        return sorted({f.params["rounds"] for f in self.cited if "rounds" in f.params})


def one_figure_per_point(machine: MachineBenchmarks, figures: list[Figure]) -> SharedPoints:
    """``figures`` with each h2load figure of a point that the same capture's interleaved
    rounds also measured, and measured ok, replaced by the rounds' figure (under the h2load
    figure's server block, so that it sits in the same row and bar). Figures of other
    scenarios stay: the convergence scenario measures the same view on purpose, with two
    windows."""
    rounds: dict[tuple[str, tuple[Any, ...]], Figure] = {}
    for capture, file in machine.interleaved_by_capture.items():
        for figure in file.figures:
            if figure.ok and not figure.params.get("reference"):
                rounds[(capture, _point(figure))] = figure
    shown, cited = [], []
    for figure in figures:
        found = (
            rounds.get((figure.capture, _point(figure)))
            if figure.record["scenario"] == H2LOAD
            else None
        )
        if found is None:
            shown.append(figure)
            continue
        stand_in = replace(found, server=figure.server, has_page=figure.has_page)
        shown.append(stand_in)
        cited.append(stand_in)
    return SharedPoints(shown, cited)


def measured_in(figure: Figure) -> str:
    """Which scenario's runs a row of the h2load page shows (its cells give the repeats, n)."""
    return "interleaved rounds" if figure.record["scenario"] == INTERLEAVED else "h2load runs"


def template_globals() -> dict[str, Any]:
    return {"one_figure_per_point": one_figure_per_point, "measured_in": measured_in}
