"""The benchmark scenarios of one server configuration, each turning measurements into figures.

Every scenario starts the servers it needs through the ``Launcher`` (pinned to the server CPU by
its prefix) and measures from this thread (pinned to the load CPU), so load tools and samplers
never share a core with the server. A server that does not start, or dies during a run, makes
the figures it was serving failed, with the reason and its log tail; the next scenario starts a
fresh server.

``bench`` holds what the scenarios of one server share (``ServerBench``); ``h2load_common`` and
``locust_common`` how one h2load figure or one Locust run is measured on it; every other module
is one scenario (``h2load_sweep`` also produces the ``resources`` figures). ``SERVER_SCENARIOS``
below is the order they run in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from harness.benchmarks.scenarios.bench import ServerBench
from harness.benchmarks.scenarios.convergence import convergence
from harness.benchmarks.scenarios.h2load_protocols import h2load_other_protocols
from harness.benchmarks.scenarios.h2load_sweep import h2load_plain
from harness.benchmarks.scenarios.idle_connections import idle_connections
from harness.benchmarks.scenarios.locust_polls import locust_polls
from harness.benchmarks.scenarios.locust_upstream import locust_upstream
from harness.benchmarks.scenarios.rate_scenarios import rate_scenarios

# The order scenarios run in for one server; each entry names the scenarios it produces.
SERVER_SCENARIOS: Sequence[tuple[frozenset[str], Callable[[ServerBench], None]]] = (
    (frozenset({"h2load", "resources"}), h2load_plain),
    (frozenset({"h2load"}), h2load_other_protocols),
    (frozenset({"fixed-rate-latency", "sync-middleware-cost"}), rate_scenarios),
    (frozenset({"idle-connections"}), idle_connections),
    (frozenset({"locust-polls"}), locust_polls),
    (frozenset({"locust-upstream"}), locust_upstream),
    (frozenset({"convergence"}), convergence),
)


__all__ = ["SERVER_SCENARIOS", "ServerBench"]
