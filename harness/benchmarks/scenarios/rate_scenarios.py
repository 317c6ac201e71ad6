"""Runs ``fixed-rate-latency`` and ``sync-middleware-cost`` on one freshly started server."""

from __future__ import annotations

from harness.benchmarks.figures import failed_figure
from harness.benchmarks.scenarios.bench import ServerBench, ServerGone
from harness.benchmarks.scenarios.fixed_rate_latency import fixed_rate_latency
from harness.benchmarks.scenarios.sync_middleware_cost import sync_middleware_cost


def rate_scenarios(bench: ServerBench) -> None:
    """fixed-rate-latency and sync-middleware-cost share one freshly started server."""
    wanted = [s for s in ("fixed-rate-latency", "sync-middleware-cost") if s in bench.scenarios]
    if not wanted:
        return
    try:
        with bench.server("http") as instance:
            if "fixed-rate-latency" in wanted:
                fixed_rate_latency(bench, instance)
            if "sync-middleware-cost" in wanted:
                sync_middleware_cost(bench, instance)
    except ServerGone as gone:
        for scenario in wanted:
            bench.add(failed_figure(scenario, "server", bench.common_params(), str(gone)))
