"""What the Locust pages say about the CPUs: how busy each one was per step, what the hypervisor
stole, which process trees ran on it, and which figures were counted the old way.

A server's own CPU share cannot say whether it ran out of CPU where nginx and PostgreSQL share
its CPU; the CPU's busy share can. Figures captured before this accounting have neither per-CPU
shares nor the time of exited children (PostgreSQL's per-connection backends) in their trees'
figures, and their params lack ``cpu_accounting``: pages name them as counted the old way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from generators.benchmarks.cells import number, value_cell
from generators.benchmarks.figure import Figure

ROLE_NAMES = {"server": "server", "nginx": "nginx", "postgres": "PostgreSQL", "locust": "Locust"}
SATURATED_PERCENT = 90  # a CPU busier than this in a step had no time left for anyone


def counted_per_cpu(figure: Figure) -> bool:
    return "cpu_accounting" in figure.params


def counted_old_way(figures: list[Figure]) -> list[Figure]:
    """The measured figures whose CPU was counted before the per-CPU accounting."""
    return [figure for figure in figures if figure.ok and not counted_per_cpu(figure)]


def _affinity(figure: Figure) -> dict[str, list[int]]:
    """role -> its CPUs, the server first, then nginx, PostgreSQL and the load tool (the data
    file sorts its keys)."""
    found = figure.params.get("cpu_affinity")
    if not isinstance(found, dict):
        return {}
    order = list(ROLE_NAMES)
    return dict(
        sorted(found.items(), key=lambda item: order.index(item[0]) if item[0] in order else 99)
    )


def roles_on(figure: Figure, cpu: int) -> list[str]:
    """The trees that ran on ``cpu`` (read from their processes when measured), by name."""
    return [ROLE_NAMES.get(role, role) for role, cpus in _affinity(figure).items() if cpu in cpus]


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def cpu_label(figure: Figure, cpu: int) -> str:
    """``CPU 0 (server, nginx and PostgreSQL)``; the CPU alone when nothing was pinned to it
    alone (unpinned trees may run on every CPU)."""
    roles = roles_on(figure, cpu)
    return f"CPU {cpu} ({_and(roles)})" if roles else f"CPU {cpu}"


def placement(figures: list[Figure]) -> list[str]:
    """Each distinct placement of the trees on the CPUs, as a sentence part, e.g.
    ``server, nginx and PostgreSQL on CPU 0; Locust on CPU 1``."""
    found: list[str] = []
    for figure in figures:
        affinity = _affinity(figure)
        by_cpus: dict[tuple[int, ...], list[str]] = {}
        for role, cpus in affinity.items():
            by_cpus.setdefault(tuple(cpus), []).append(ROLE_NAMES.get(role, role))
        text = "; ".join(
            f"{_and(roles)} on CPU{'s' if len(cpus) > 1 else ''} {','.join(map(str, cpus))}"
            for cpus, roles in by_cpus.items()
        )
        if text and text not in found:
            found.append(text)
    return found


def per_cpu_users(figures: list[Figure]) -> list[int]:
    return sorted(
        {users for figure in figures for cpu in figure.cpus() for users in _busy(figure, cpu)}
    )


def per_cpu_rows(figures: list[Figure]) -> list[tuple[Figure, int, str]]:
    """(figure, CPU, its label) for every CPU of every figure that has per-CPU shares."""
    return [
        (figure, cpu, cpu_label(figure, cpu))
        for figure in figures
        if figure.ok
        for cpu in figure.cpus()
    ]


def _busy(figure: Figure, cpu: int) -> dict[int, str]:
    return figure.steps("busy_percent", cpu)


def cpu_cell(figure: Figure, users: int, cpu: int) -> Markup:
    """The CPU's busy share in that step, with the share the hypervisor stole if any."""
    name = _busy(figure, cpu).get(users)
    if name is None:
        return Markup("not run")
    cell = value_cell(figure, name)
    steal_name = figure.steps("steal_percent", cpu).get(users)
    steal = figure.metric(steal_name) if steal_name else None
    if steal is not None:  # shown when none was stolen too: "steal 0 %" is a finding
        cell += Markup("<br><small>steal {} %</small>").format(number(steal, steal_name))
    return cell


@dataclass(frozen=True)
class BusiestStep:
    figure: Figure
    cpu: int
    users: int
    busy_percent: float
    steal_percent: float | None


def busiest_server_cpu(figure: Figure) -> BusiestStep | None:
    """The step in which a CPU the server ran on was busiest (every CPU when the server's
    affinity was not recorded), or None without per-CPU shares."""
    server_cpus = _affinity(figure).get("server") or figure.cpus()
    best: BusiestStep | None = None
    for cpu in figure.cpus():
        if cpu not in server_cpus:
            continue
        for users, name in _busy(figure, cpu).items():
            busy = figure.metric(name)
            if busy is None or (best is not None and busy <= best.busy_percent):
                continue
            steal_name = figure.steps("steal_percent", cpu).get(users)
            steal = figure.metric(steal_name) if steal_name else None
            best = BusiestStep(figure, cpu, users, busy, steal)
    return best


def template_globals() -> dict[str, Any]:
    return {
        "counted_old_way": counted_old_way,
        "placement": placement,
        "per_cpu_users": per_cpu_users,
        "per_cpu_rows": per_cpu_rows,
        "cpu_cell": cpu_cell,
        "saturated_percent": SATURATED_PERCENT,
    }
