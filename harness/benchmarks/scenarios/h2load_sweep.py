"""The ``h2load`` scenario over plain HTTP/1.1 (every client count), and the ``resources``
scenario: the server's start time and memory, at idle and during that sweep."""

from __future__ import annotations

import time
from collections.abc import Sequence

from harness.benchmarks.figures import figure_record, measure_in_rounds
from harness.benchmarks.measurement import Measurement
from harness.benchmarks.resources import MemorySampler, tree_memory
from harness.benchmarks.scenarios.bench import SETTLE_S, ServerBench, ServerGone, _failures
from harness.benchmarks.scenarios.h2load_common import _h2load, _h2load_params, native_json
from harness.benchmarks.settings import H2LOAD_ENDPOINTS
from harness.launcher import Instance


def h2load_plain(bench: ServerBench) -> None:
    """The full client sweep over HTTP/1.1, each round on a freshly started server, with the
    server's memory read at idle and sampled during the round (the ``resources`` scenario)."""
    native = native_json(bench.definition)
    keys = [(native, c) for c in bench.settings.clients] + [
        (e, c)
        for e in H2LOAD_ENDPOINTS
        if e != native
        for c in bench.settings.other_endpoint_clients
    ]
    resources: list[Measurement] = []

    def run_round(pending: Sequence[tuple[str, int]]) -> dict[tuple[str, int], Measurement]:
        try:
            with bench.server("http") as instance:
                time.sleep(SETTLE_S)
                pid = instance.process.pid
                idle = tree_memory(pid)
                with MemorySampler(pid) as sampler:
                    results = {
                        key: _h2load(bench, instance, instance.base_url, *key, "http/1.1")
                        for key in pending
                    }
                if len(pending) == len(keys):  # only full rounds describe the same load
                    resources.append(_resources(instance, idle, sampler))
                return results
        except ServerGone as gone:
            resources.append(Measurement(failure=str(gone)))
            return _failures(pending, str(gone))

    repeats = measure_in_rounds(keys, run_round, bench.settings)
    if "h2load" in bench.scenarios:
        for (endpoint, clients), measured in repeats.items():
            params = _h2load_params(bench, "http/1.1", endpoint, clients, measured)
            bench.add(figure_record("h2load", f"http/1.1 {endpoint} c={clients}", params, measured))
    if "resources" in bench.scenarios:
        params = {
            "load": "the h2load http/1.1 sweep (every endpoint and client count, one round)",
            "sampling_interval_s": 0.25,
            "memory": "sum over the server's process tree; PSS counts shared pages once",
            **bench.common_params(),
        }
        bench.add(figure_record("resources", "start and memory", params, resources))


def _resources(instance: Instance, idle: dict[str, int], sampler: MemorySampler) -> Measurement:
    peak = sampler.peak or {}
    return Measurement(
        metrics={
            "ready_s": instance.ready_after_s,
            "idle_memory_pss_bytes": idle["memory_pss_bytes"],
            "idle_memory_rss_bytes": idle["memory_rss_bytes"],
            "peak_memory_pss_bytes": peak.get("memory_pss_bytes"),
            "peak_memory_rss_bytes": peak.get("memory_rss_bytes"),
            "processes": idle["processes"],
        },
        details={"memory_samples": sampler.samples},
    )
