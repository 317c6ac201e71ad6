"""How the Locust scenarios measure one figure: Locust started first, then a fresh server,
for every repeat."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.benchmarks.figures import figure_record, measure_in_rounds
from harness.benchmarks.locust.command import LOCUSTFILES, LocustRequest
from harness.benchmarks.locust.run import started_locust
from harness.benchmarks.measurement import Measurement
from harness.benchmarks.scenarios.bench import ServerBench, ServerGone, checked
from harness.launcher import base_url
from harness.network import free_port


def _locust_scenario(
    bench: ServerBench,
    scenario: str,
    figure: str,
    locustfile: str,
    steps: Sequence[tuple[int, float]],
    params: dict[str, Any],
    env: dict[str, str] | None = None,
    kind: str = "http",
) -> None:
    """Each repeat on a freshly started server: an overloaded run leaves a queue that takes
    longer to drain (100 requests of a second each, on 8 threads) than a restart."""
    params = {
        "tool": "locust",
        "locustfile": f"harness/benchmarks/locustfiles/{locustfile}",
        "steps": [{"users": users, "seconds": seconds} for users, seconds in steps],
        "request_timeout_s": bench.settings.locust_timeout_s,
        "processes": 1,
        **params,
        **bench.common_params(),
    }

    def run_round(pending: Sequence[str]) -> dict[str, Measurement]:
        # Locust starts first and waits for its cue, so its imports overlap the server's start.
        port = free_port()
        request = LocustRequest(
            locustfile=LOCUSTFILES / locustfile,
            host=base_url(kind, port),
            steps=tuple(steps),
            timeout_s=bench.settings.locust_timeout_s,
            env=env or {},
        )
        try:
            with (
                started_locust(request, bench.scratch) as locust,
                bench.server(kind, port=port) as instance,
            ):
                return {figure: checked(instance, locust.measure())}
        except ServerGone as gone:
            return {figure: Measurement(failure=str(gone)[:2000])}

    repeats = measure_in_rounds([figure], run_round, bench.settings)[figure]
    bench.add(figure_record(scenario, figure, params, repeats))
