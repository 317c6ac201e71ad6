"""The ``idle-connections`` scenario: how many SSE (and, for ASGI, WebSocket) connections a
fresh server holds open, and the memory they cost."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from harness.benchmarks.figures import figure_record, measure_in_rounds
from harness.benchmarks.idle import hold_connections
from harness.benchmarks.measurement import Measurement
from harness.benchmarks.resources import tree_memory
from harness.benchmarks.scenarios.bench import SETTLE_S, ServerBench, ServerGone, checked


def idle_connections(bench: ServerBench) -> None:
    kinds = ["sse"] + (["websocket"] if bench.definition.interface == "asgi" else [])
    settings = bench.settings
    for kind in kinds:
        path = bench.endpoints["sse" if kind == "sse" else "websocket"]
        params = {
            "kind": kind,
            "path": path,
            "bound": settings.idle_bound,
            "open_deadline_s": settings.idle_open_deadline_s,
            "hold_s": settings.idle_hold_s,
            "fresh_server_per_repeat": True,
            **bench.common_params(),
        }

        def run_round(pending: Sequence[str], kind: str = kind, path: str = path):
            return {kind: _hold_once(bench, kind, path)}

        repeats = measure_in_rounds([kind], run_round, settings, metric="connections_still_open")[
            kind
        ]
        bench.add(figure_record("idle-connections", kind, params, repeats))


def _hold_once(bench: ServerBench, kind: str, path: str) -> Measurement:
    settings = bench.settings
    try:
        with bench.server("http") as instance:
            time.sleep(SETTLE_S)
            pid = instance.process.pid
            idle = tree_memory(pid)
            url = instance.base_url + path
            if kind == "websocket":
                url = "ws" + url.removeprefix("http")
            result, held = hold_connections(
                kind,
                url,
                settings.idle_bound,
                settings.idle_open_deadline_s,
                settings.idle_hold_s,
                while_held=lambda: tree_memory(pid),
            )
            metrics: dict[str, Any] = dict(result.as_metrics())
            metrics["idle_memory_pss_bytes"] = idle["memory_pss_bytes"]
            metrics["held_memory_pss_bytes"] = held.get("memory_pss_bytes")
            grown = (held.get("memory_pss_bytes") or 0) - idle["memory_pss_bytes"]
            metrics["memory_per_connection_bytes"] = (
                max(grown, 0) / result.still_open if result.still_open and held else None
            )
            return checked(
                instance, Measurement(metrics=metrics, details={"errors": result.errors})
            )
    except ServerGone as gone:
        return Measurement(failure=str(gone)[:2000])
