"""The ``idle-connections`` scenario: how many SSE (and, for ASGI, WebSocket) connections a
fresh server holds open, when it drops the others, what memory each costs, and whether a fresh
client is still served while they are held.

The SSE stream is the interface's own idiom (``harness.endpoints``): an async generator under
ASGI, a sync one under WSGI, which holds a worker thread per stream, so a WSGI server's count
is its capacity of streams, not the number of connections it accepts.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from harness.benchmarks.figures import failed_figure, figure_record, measure_in_rounds
from harness.benchmarks.idle import FD_HEADROOM, hold_connections
from harness.benchmarks.measurement import Measurement
from harness.benchmarks.open_files import TooFewOpenFiles, ensure_open_files
from harness.benchmarks.resources import tree_memory
from harness.benchmarks.scenarios.bench import SETTLE_S, ServerBench, ServerGone, checked
from harness.benchmarks.scenarios.h2load_common import native_json
from harness.endpoints import sse_idiom


def idle_connections(bench: ServerBench) -> None:
    kinds = ["sse"] + (["websocket"] if bench.definition.interface == "asgi" else [])
    settings = bench.settings
    idiom = sse_idiom(bench.definition.interface)
    try:
        # Before the server starts: it inherits this process's limit.
        open_files = ensure_open_files(settings.idle_bound + FD_HEADROOM)
    except TooFewOpenFiles as error:
        for kind in kinds:
            params = {"kind": kind, "bound": settings.idle_bound}
            bench.add(failed_figure("idle-connections", kind, params, str(error), "machine"))
        return
    fresh = native_json(bench.definition)
    for kind in kinds:
        path = bench.endpoints[idiom.endpoint if kind == "sse" else "websocket"]
        params = {
            "kind": kind,
            "path": path,
            **({"generator": idiom.generator} if kind == "sse" else {}),
            "bound": settings.idle_bound,
            "open_deadline_s": settings.idle_open_deadline_s,
            "stall_s": settings.idle_stall_s,
            "hold_s": settings.idle_hold_s,
            "fresh_path": bench.endpoints[fresh],
            "open_files_limit": open_files,
            "fresh_server_per_repeat": True,
            **bench.common_params(),
        }

        def run_round(pending: Sequence[str], kind: str = kind, path: str = path):
            return {kind: _hold_once(bench, kind, path, bench.endpoints[fresh])}

        # Thousands of connections cost seconds to open, so this scenario has repeats of its
        # own (a count of connections held varies far less than a rate).
        rounds = replace(settings, repeats=settings.idle_repeats, max_repeats=settings.idle_repeats)
        repeats = measure_in_rounds([kind], run_round, rounds, metric="connections_still_open")
        bench.add(figure_record("idle-connections", kind, params, repeats[kind]))


def _hold_once(bench: ServerBench, kind: str, path: str, fresh_path: str) -> Measurement:
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
                stall_s=settings.idle_stall_s,
                fresh_url=instance.base_url + fresh_path,
            )
            metrics: dict[str, Any] = dict(result.as_metrics())
            metrics["idle_memory_pss_bytes"] = idle["memory_pss_bytes"]
            metrics["idle_memory_rss_bytes"] = idle["memory_rss_bytes"]
            metrics["held_memory_pss_bytes"] = held.get("memory_pss_bytes")
            metrics["held_memory_rss_bytes"] = held.get("memory_rss_bytes")
            grown = (held.get("memory_pss_bytes") or 0) - idle["memory_pss_bytes"]
            # Per connection open when the memory was read (halfway through the hold), on
            # PSS: forked workers' shared pages count once.
            metrics["memory_per_connection_bytes"] = (
                max(grown, 0) / result.open_at_peak if result.open_at_peak and held else None
            )
            details = {"errors": result.errors, **result.details()}
            return checked(instance, Measurement(metrics=metrics, details=details))
    except ServerGone as gone:
        return Measurement(failure=str(gone)[:2000])
