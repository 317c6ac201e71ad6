"""The ``fixed-rate-latency`` scenario: latency when requests arrive on a fixed schedule, at
fractions of the highest rate the server answers, timed from when each request was due.

Measured with openload (an open model, see ``harness.benchmarks.openload``), so a server that
cannot keep up is charged for the queue it builds, and a rate it cannot hold is its result
("held 62 % of the rate"), not a missing figure. The scale comes from a closed-loop probe with
the same tool and pool of connections, measured first on the same server (figure
``<view>-maximum``); each rate is then one figure (``<view>-50pct``), measured in rounds so that
drift spreads over all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.benchmarks.figures import failed_figure, figure_record, measure_in_rounds
from harness.benchmarks.measurement import Measurement
from harness.benchmarks.openload.command import OpenloadRequest
from harness.benchmarks.openload.run import run_openload
from harness.benchmarks.scenarios.bench import ServerBench, checked
from harness.benchmarks.scenarios.h2load_common import native_json, wait_until_answering
from harness.launcher import Instance

SCENARIO = "fixed-rate-latency"


def rate_figure(endpoint: str, fraction: float) -> str:
    return f"{endpoint}-{round(fraction * 100)}pct"


def fixed_rate_latency(bench: ServerBench, instance: Instance) -> None:
    settings = bench.settings
    endpoint = native_json(bench.definition)
    url = instance.base_url + bench.endpoints[endpoint]
    params: dict[str, Any] = {
        "tool": "openload",
        "model": "open",
        "protocol": "http/1.1",
        "endpoint": endpoint,
        "path": bench.endpoints[endpoint],
        "connections": settings.fixed_rate_connections,
        "duration_s": settings.fixed_rate_duration_s,
        "warmup_s": settings.fixed_rate_warmup_s,
        "drain_s": settings.fixed_rate_drain_s,
        **bench.common_params(),
    }

    def run(rate: float, duration_s: float) -> Measurement:
        wait_until_answering(url, bench.launcher.tls.client_context())
        request = OpenloadRequest(
            url=url,
            rate=rate,
            connections=settings.fixed_rate_connections,
            warmup_s=settings.fixed_rate_warmup_s,
            duration_s=duration_s,
            drain_s=settings.fixed_rate_drain_s,
            timeout_s=settings.fixed_rate_drain_s,
        )
        return checked(instance, run_openload(request, bench.scratch))

    maximum_figure = f"{endpoint}-maximum"
    probe_params = {**params, "model": "closed", "duration_s": settings.fixed_rate_probe_s}
    probes = measure_in_rounds(
        [maximum_figure],
        lambda pending: {maximum_figure: run(0, settings.fixed_rate_probe_s)},
        settings,
        metric="answered_per_s",
    )[maximum_figure]
    probe_record = figure_record(SCENARIO, maximum_figure, probe_params, probes)
    bench.add(probe_record)
    maximum = probe_record["metrics"].get("answered_per_s")
    if probe_record["status"] != "ok" or not maximum:
        reason = f"no maximum rate was measured, so there is no rate to hold ({maximum_figure})"
        for fraction in settings.fixed_rate_fractions:
            rate_params = {**params, "fraction_of_maximum": fraction}
            bench.add(failed_figure(SCENARIO, rate_figure(endpoint, fraction), rate_params, reason))
        return

    rates = {
        rate_figure(endpoint, fraction): (fraction, max(1.0, round(maximum * fraction, 1)))
        for fraction in settings.fixed_rate_fractions
    }

    def run_round(pending: Sequence[str]) -> dict[str, Measurement]:
        return {key: run(rates[key][1], settings.fixed_rate_duration_s) for key in pending}

    repeats = measure_in_rounds(list(rates), run_round, settings, metric="latency_p50_ms")
    for key, (fraction, rate) in rates.items():
        rate_params = {
            **params,
            "fraction_of_maximum": fraction,
            "maximum_requests_per_s": maximum,
            "maximum_measured_by": f"{maximum_figure} (closed loop, same pool, median)",
            "target_requests_per_s": rate,
        }
        bench.add(figure_record(SCENARIO, key, rate_params, repeats[key]))
