"""Running openload once and turning what it printed and logged into a Measurement.

Latency percentiles are nearest-rank over every request due in the measured window that was
answered, timed out or still unanswered when the drain ended; the last two count as slower
than anything answered, so a percentile that falls among them is not a number but "later than
the run waited" (None, with the reason in the notes). Requests answered with an error status
or lost with their connection are failures, counted apart and never timed.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.benchmarks.measurement import Measurement
from harness.benchmarks.openload.command import NODE, OpenloadRequest, openload_command
from harness.benchmarks.tool_process import Finished, fresh_log_path, run_tool

# Beyond its longest run, openload is given this long (connection set-up, start, exit).
TIMEOUT_MARGIN_S = 15.0
# Below this share of its target rate, the server did not hold the rate (it set the pace).
HELD_FROM_PERCENT = 95.0
PERCENTILES = {
    "latency_p50_ms": 0.50,
    "latency_p90_ms": 0.90,
    "latency_p99_ms": 0.99,
    "latency_p99_9_ms": 0.999,
}


def run_openload(
    request: OpenloadRequest, scratch: Path, prefix: Sequence[str] = ()
) -> Measurement:
    """One openload run; ``prefix`` goes before the command (e.g. ``taskset -c 1``)."""
    if shutil.which(NODE) is None:
        return Measurement(failure="node is not installed (openload runs on Node.js 18 or newer)")
    log_path = fresh_log_path(scratch, "openload-")
    command = [*prefix, *openload_command(request, log_path)]
    timeout_s = request.longest_s + TIMEOUT_MARGIN_S
    try:
        try:
            finished = run_tool(command, timeout_s)
        except OSError as error:
            return Measurement(failure=f"cannot execute {command[0]!r}: {error}")
        latencies = _read_latencies(log_path) if finished.exit_code == 0 else []
    finally:
        log_path.unlink(missing_ok=True)
    return measurement_of(request, command, finished, latencies, timeout_s)


def _read_latencies(path: Path) -> list[float]:
    return sorted(float(line) for line in path.read_text().split() if line)


def measurement_of(
    request: OpenloadRequest,
    command: list[str],
    finished: Finished,
    latencies_ms: list[float],
    timeout_s: float,
) -> Measurement:
    details: dict[str, Any] = {"command": command, "exit_code": finished.exit_code}
    if finished.exit_code is None:
        return Measurement(failure=f"openload did not end within {timeout_s:g} s", details=details)
    try:
        result = json.loads(finished.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = finished.stderr.strip().splitlines()[-5:]
        return Measurement(
            failure=f"openload printed no result (exit code {finished.exit_code}): "
            + (" | ".join(tail) or "no output"),
            details=details,
        )
    details["result"] = result
    if not result["scheduled"]:
        return Measurement(failure="no request was due in the measured window", details=details)
    if not result["answered"]:
        return Measurement(
            failure=f"nothing was answered: {_what_happened(result)}", details=details
        )
    metrics, notes = figures(request, result, latencies_ms)
    details["notes"] = notes
    return Measurement(metrics=metrics, details=details)


def figures(
    request: OpenloadRequest, result: dict[str, Any], latencies_ms: list[float]
) -> tuple[dict[str, float | None], list[str]]:
    scheduled = result["scheduled"]
    failed = result["non2xx"] + result["errored"] + result["timed_out"]
    late = result["timed_out"] + result["unanswered"]  # slower than anything answered
    population = len(latencies_ms) + late
    metrics: dict[str, float | None] = {
        "requests_total": scheduled,
        "answered_per_s": round(result["answered_in_window"] / request.duration_s, 3),
        "failed_percent": round(100 * failed / scheduled, 3),
        "unanswered_percent": round(100 * result["unanswered"] / scheduled, 3),
        "client_lag_p99_ms": _rounded(result["lag_p99_ms"]),
    }
    for name, share in PERCENTILES.items():
        rank = max(1, math.ceil(share * population))
        metrics[name] = round(latencies_ms[rank - 1], 3) if rank <= len(latencies_ms) else None
    metrics["latency_max_ms"] = round(latencies_ms[-1], 3) if not late else None
    notes = []
    if request.open_model:
        metrics["target_requests_per_s"] = request.rate
        metrics["held_percent"] = round(100 * metrics["answered_per_s"] / request.rate, 1)
        if metrics["held_percent"] < HELD_FROM_PERCENT:
            notes.append(
                f"the server did not hold the rate: {metrics['answered_per_s']:g} of "
                f"{request.rate:g} requests/s answered inside the window"
            )
    if late:
        notes.append(
            f"{late} of the window's {scheduled} requests were not answered within "
            f"{request.timeout_s:g} s of being sent or {request.drain_s:g} s after the window; "
            "percentiles that fall among them are not published"
        )
    return metrics, notes


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _what_happened(result: dict[str, Any]) -> str:
    counts = (
        f"{result['scheduled']} due, {result['non2xx']} with an error status, "
        f"{result['errored']} lost with their connection, {result['timed_out']} timed out, "
        f"{result['unanswered']} unanswered at the end; {result['connect_errors']} failed "
        "connection attempts"
    )
    return counts
