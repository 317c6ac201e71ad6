"""The ``sync-middleware-cost`` scenario: an async view with and without one sync-only
middleware, measured back to back on two running servers."""

from __future__ import annotations

from collections.abc import Sequence

from harness.benchmarks.figures import figure_record, measure_in_rounds
from harness.benchmarks.measurement import Measurement
from harness.benchmarks.scenarios.bench import ServerBench, ServerGone
from harness.benchmarks.scenarios.h2load_common import _h2load
from harness.launcher import Instance

SYNC_MIDDLEWARE_ENV = {"SYNC_MIDDLEWARE": "1"}  # sampleproject/settings.py adds the middleware


def _pair(without: Measurement, with_: Measurement) -> Measurement:
    if not without.ok or not with_.ok:
        return Measurement(failure=without.failure or with_.failure)
    metrics: dict[str, float | int | None] = {}
    ratios = {
        "latency_p50_ms": "latency_p50_ratio",
        "latency_p99_ms": "latency_p99_ratio",
        "requests_per_s": "throughput_ratio",
    }
    for name, ratio in ratios.items():
        a, b = without.metrics.get(name), with_.metrics.get(name)
        metrics[f"without_{name}"], metrics[f"with_{name}"] = a, b
        metrics[ratio] = b / a if a and b else None
    return Measurement(metrics=metrics)


def sync_middleware_cost(bench: ServerBench, base: Instance) -> None:
    endpoint = "json_async"
    params = {
        "tool": "h2load",
        "protocol": "http/1.1",
        "endpoint": endpoint,
        "path": bench.endpoints[endpoint],
        "clients": 1,
        "variant": "SYNC_MIDDLEWARE=1 adds one sync-only middleware (demo/middleware.py)",
        "ratio": "with / without, per repeat (both servers up, measured back to back)",
        "duration_s": bench.settings.duration_s,
        "warmup_s": bench.settings.warmup_s,
        **bench.common_params(),
    }
    try:
        with bench.server("http", env=SYNC_MIDDLEWARE_ENV) as variant:
            order = [0]

            def run_round(pending: Sequence[str]) -> dict[str, Measurement]:
                first, second = (base, variant) if order[0] % 2 == 0 else (variant, base)
                order[0] += 1  # alternate which goes first, so drift does not favour one
                measured = {
                    id(instance): _h2load(
                        bench, instance, instance.base_url, endpoint, 1, "http/1.1"
                    )
                    for instance in (first, second)
                }
                return {endpoint: _pair(measured[id(base)], measured[id(variant)])}

            repeats = measure_in_rounds(
                [endpoint], run_round, bench.settings, metric="latency_p50_ratio"
            )[endpoint]
    except ServerGone as gone:
        repeats = [Measurement(failure=f"with SYNC_MIDDLEWARE=1, {gone}")]
    bench.add(figure_record("sync-middleware-cost", endpoint, params, repeats))
