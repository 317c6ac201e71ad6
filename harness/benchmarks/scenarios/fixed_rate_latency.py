"""The ``fixed-rate-latency`` scenario: latency at a fixed fraction of the measured maximum
rate, spread over many paced clients."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from harness.benchmarks.figures import failed_figure, figure_record, measure_in_rounds
from harness.benchmarks.measurement import Measurement
from harness.benchmarks.scenarios.bench import ServerBench
from harness.benchmarks.scenarios.h2load_common import _h2load, native_json
from harness.launcher import Instance

FIXED_RATE_MAX_CLIENTS = 50
FIXED_RATE_MIN_PER_CLIENT = 5  # requests/s: fewer would leave too few requests per client


def _measured_maximum(bench: ServerBench, endpoint: str) -> float | None:
    """The highest answered rate (a rate counting failed requests is no maximum to hold)."""
    rates = [
        figure["metrics"].get("answered_per_s")
        for figure in bench.figures
        if figure["scenario"] == "h2load"
        and figure["status"] == "ok"
        and figure["params"]["protocol"] == "http/1.1"
        and figure["params"]["endpoint"] == endpoint
    ]
    rates = [rate for rate in rates if rate]
    return max(rates) if rates else None


def fixed_rate_latency(bench: ServerBench, instance: Instance) -> None:
    endpoint = native_json(bench.definition)
    settings = bench.settings
    params: dict[str, Any] = {
        "tool": "h2load",
        "protocol": "http/1.1",
        "endpoint": endpoint,
        "path": bench.endpoints[endpoint],
        "fraction_of_maximum": settings.fixed_rate_fraction,
        "duration_s": settings.fixed_rate_duration_s,
        "warmup_s": settings.warmup_s,
        **bench.common_params(),
    }
    maximum = _measured_maximum(bench, endpoint)
    if maximum is None:  # h2load was not selected (or failed): measure the maximum here
        probe = _h2load(bench, instance, instance.base_url, endpoint, 200, "http/1.1")
        maximum = probe.metrics.get("answered_per_s") if probe.ok else None
        params["maximum_measured_by"] = "this scenario (h2load, 200 clients, one run)"
    else:
        params["maximum_measured_by"] = "the h2load http/1.1 figures of this capture"
    if not maximum:
        reason = "no maximum rate was measured, so there is no fixed rate to hold"
        bench.add(failed_figure("fixed-rate-latency", endpoint, params, reason))
        return
    wanted = maximum * settings.fixed_rate_fraction
    # Many clients at a low rate each: a client waits for its answer before the next request,
    # so few fast clients would hide queueing delay (coordinated omission). h2load paces each
    # client at a whole number of requests per second, so the target is rounded to that.
    per_client = max(FIXED_RATE_MIN_PER_CLIENT, math.ceil(wanted / FIXED_RATE_MAX_CLIENTS))
    clients = max(1, round(wanted / per_client))
    target = clients * per_client
    params.update(maximum_requests_per_s=maximum, target_requests_per_s=target, clients=clients)

    def run_round(pending: Sequence[str]) -> dict[str, Measurement]:
        return {
            endpoint: _h2load(
                bench,
                instance,
                instance.base_url,
                endpoint,
                clients,
                "http/1.1",
                rps_per_client=per_client,
                duration_s=settings.fixed_rate_duration_s,
            )
        }

    repeats = measure_in_rounds([endpoint], run_round, settings, metric="latency_p50_ms")
    bench.add(figure_record("fixed-rate-latency", endpoint, params, repeats[endpoint]))
