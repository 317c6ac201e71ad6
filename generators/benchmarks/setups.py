"""What the benchmark pages say about the setup a figure ran with (middleware stack, database
connections, upstream client), and the comparisons between setups: the ASGI-vs-WSGI gap with
and without Django's middleware, and the CPU per answer of each upstream client.

Everything comes from the figure's parameters. A figure captured before a setting was varied
has no parameter for it; it ran what the sample project then did (Django's default middleware
stack with WhiteNoise, DEBUG on and no WhiteNoise under a development server; a new database
connection per request; a new httpx client per request), and is labelled so.
"""

from __future__ import annotations

import statistics
from typing import Any

from generators.benchmarks.figures import Figure, MachineBenchmarks
from generators.benchmarks.reproductions import steady

STATIC_NAMES = {"whitenoise": "WhiteNoise", "servestatic": "ServeStatic"}
BEFORE_STACKS = "before stacks were varied"


def middleware_stack(figure: Figure) -> str:
    """The figure's middleware stack in words."""
    stack = figure.params.get("middleware_stack")
    if stack == "none":
        return "no middleware"
    if stack == "production":
        static = figure.params.get("static_files_middleware")
        name = STATIC_NAMES.get(str(static), str(static)) if static else None
        return "Django's default stack" + (f" + {name}" if name else "")
    if figure.server.get("mode") == "development":
        return f"Django's default stack with DEBUG on and no WhiteNoise, {BEFORE_STACKS},"
    return f"Django's default stack + WhiteNoise, {BEFORE_STACKS},"


def stacks_line(figures: list[Figure]) -> str:
    """Each middleware stack these figures ran with, and the captures it was in (the reference
    apps of the interleaved rounds run no Django, so no stack)."""
    captures: dict[str, list[str]] = {}
    for figure in figures:
        if figure.params.get("reference"):
            continue
        shown = captures.setdefault(middleware_stack(figure), [])
        if figure.capture not in shown:
            shown.append(figure.capture)
    return "; ".join(
        f"{stack} in capture{'s' if len(ids) > 1 else ''} {', '.join(sorted(ids))}"
        for stack, ids in captures.items()
    )


def _stack_of(figure: Figure) -> str:
    """production or none; a figure from before stacks were varied ran the production one."""
    return "none" if figure.params.get("middleware_stack") == "none" else "production"


def _median_rate(
    figures: list[Figure], interface: str, stack: str, clients: Any, left_out: set[str]
) -> float | None:
    rates = [
        rate
        for figure in figures
        if figure.ok
        and not figure.params.get("reference")
        and figure.server.get("interface") == interface
        and figure.server["id"] not in left_out
        and figure.params.get("clients") == clients
        and _stack_of(figure) == stack
        and (rate := figure.metric("answered_per_s")) is not None
    ]
    return statistics.median(rates) if rates else None


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def development_servers(machine: MachineBenchmarks) -> set[str]:
    """The ids of the development servers among a machine's benchmark files (the interleaved
    rounds' file names its targets, not their mode)."""
    return {file.server["id"] for file in machine.files if file.server.get("mode") == "development"}


def middleware_gap(figures: list[Figure], left_out: set[str] = frozenset()) -> list[str]:
    """For each client count: the median ASGI configuration's answered/s against the median
    WSGI one's, with Django's default stack and with none, and how much wider the middleware
    makes the gap. The servers ``left_out`` (the development servers) are in neither median."""
    sentences = []
    captures = sorted({figure.capture for figure in figures if not figure.params.get("reference")})
    label = f"capture {', '.join(captures)}"
    for clients in sorted({f.params.get("clients") for f in figures} - {None}):
        rates = {
            (interface, stack): _median_rate(figures, interface, stack, clients, set(left_out))
            for interface in ("asgi", "wsgi")
            for stack in ("production", "none")
        }
        asgi, wsgi = rates[("asgi", "production")], rates[("wsgi", "production")]
        if asgi is None or wsgi is None:
            continue
        sentence = (
            f"At {clients} client{'s' if clients != 1 else ''} ({label}), with Django's default "
            f"stack, the median ASGI configuration answered {_rate(asgi)}/s and the median WSGI "
            f"one {_rate(wsgi)}/s: WSGI {wsgi / asgi:.2f}× ASGI."
        )
        bare_asgi, bare_wsgi = rates[("asgi", "none")], rates[("wsgi", "none")]
        if bare_asgi is None or bare_wsgi is None:
            sentence += (
                " No figure with no middleware was measured in this capture (it ran before "
                "stacks were varied), so the gap is not split between the servers and Django's "
                "middleware here."
            )
        else:
            gap, bare_gap = wsgi / asgi, bare_wsgi / bare_asgi
            sentence += (
                f" With no middleware: {_rate(bare_asgi)}/s and {_rate(bare_wsgi)}/s, WSGI "
                f"{bare_gap:.2f}× ASGI. "
                + (
                    f"Django's middleware makes the gap {gap / bare_gap:.2f} times wider; the "
                    f"{bare_gap:.2f}× that remains without it is the servers' and Django's "
                    "handlers' (WSGIHandler or ASGIHandler), not its middleware's."
                    if gap > bare_gap
                    else "Django's middleware does not widen the gap here."
                )
            )
        sentences.append(sentence)
    return sentences


def connection_setup(figure: Figure) -> str:
    """The polls figure's database connections in words."""
    if figure.params.get("connections") == "pooled":
        size, timeout = figure.params.get("pool_max_size"), figure.params.get("pool_timeout_s")
        return f"pooled: at most {size} connections per process, {timeout:g} s timeout"
    if figure.params.get("connections") == "unpooled":
        return "unpooled: a new connection per request"
    return "unpooled: a new connection per request (before pooling was varied)"


def by_connections(figures: list[Figure]) -> dict[str, list[Figure]]:
    """The polls figures of the article's setup, pooled first, then unpooled (older figures,
    which record no connection setup, were unpooled)."""
    groups: dict[str, list[Figure]] = {"pooled": [], "unpooled": []}
    for figure in figures:
        pooled = figure.params.get("connections") == "pooled"
        groups["pooled" if pooled else "unpooled"].append(figure)
    return {name: group for name, group in groups.items() if group}


def upstream_client(figure: Figure) -> str:
    """per-request (the article's code; every figure before the client was varied) or shared."""
    return "shared" if figure.params.get("upstream_client") == "shared" else "per-request"


def cpu_ms_per_answer(figure: Figure | None) -> float | None:
    """Server CPU time per answered request in the steady step, in ms: its CPU share of the
    core over its answered rate."""
    cpu, rate = steady(figure, "server_cpu_percent"), steady(figure, "answered_per_s")
    if cpu is None or not rate:
        return None
    return cpu / 100 / rate * 1000


def client_pairs(figures: list[Figure]) -> list[tuple[Figure, Figure | None]]:
    """Each figure with the article's per-request client, and the same configuration's figure
    with the shared client (None where it was not measured)."""
    shared = {f.server["id"]: f for f in figures if upstream_client(f) == "shared"}
    return [
        (figure, None if figure.params.get("variant") else shared.get(figure.server["id"]))
        for figure in figures
        if upstream_client(figure) == "per-request"
    ]


def client_findings(figures: list[Figure]) -> list[str]:
    """How much of each configuration's CPU per answer is client creation, where both clients
    were measured."""
    sentences = []
    for article, shared in client_pairs(figures):
        ours, theirs = cpu_ms_per_answer(shared), cpu_ms_per_answer(article)
        if shared is None or ours is None or theirs is None:
            continue
        rate_before, rate_after = (
            steady(article, "answered_per_s"),
            steady(shared, "answered_per_s"),
        )
        assert rate_before is not None and rate_after is not None
        share = (theirs - ours) / theirs * 100 if theirs else 0.0
        sentences.append(
            f"{article.server['name']}: {theirs:.1f} ms of server CPU per answer with a client "
            f"per request, {ours:.1f} ms with one client per process ({share:.0f} % of it was "
            f"creating clients); {rate_before:.3g} and {rate_after:.3g} answers a second."
        )
    return sentences


def template_globals() -> dict[str, Any]:
    return {
        "middleware_stack": middleware_stack,
        "stacks_line": stacks_line,
        "middleware_gap": middleware_gap,
        "development_servers": development_servers,
        "connection_setup": connection_setup,
        "by_connections": by_connections,
        "cpu_ms_per_answer": cpu_ms_per_answer,
        "client_pairs": client_pairs,
        "client_findings": client_findings,
    }
