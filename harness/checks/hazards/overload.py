"""The overload check: ten times the load the server can answer, for a few seconds, and then
whether it comes back.

First the server's capacity: a closed loop of 50 keep-alive connections on /json/sync, the
highest rate it answers. Then openload asks for ten times that rate (an open model: requests are
due whatever happened before, from a pool of 200 connections) for 3 s. What a server does with
the excess is its own: answer 503 at once, queue (latency grows), reset, or time out. What
matters afterwards is whether it recovers: single requests are sent every quarter second after
the load ends until one is answered about as fast as before."""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx

from harness.benchmarks.openload.command import OpenloadRequest
from harness.benchmarks.openload.run import run_openload
from harness.checks import Check, CheckContext, Finding
from harness.checks.hazards._shared import GROUP

PATH = "/json/sync"
CAPACITY_CONNECTIONS = 50  # at least; twice the declared capacity where that is more
CAPACITY_WINDOW_S = 2.0
OVERLOAD_FACTOR = 10
OVERLOAD_CONNECTIONS = 1000
OVERLOAD_WINDOW_S = 3.0
REQUEST_TIMEOUT_S = 5.0
BASELINE_REQUESTS = 5
RECOVERY_POLL_S = 0.25
RECOVERY_LIMIT_S = 20.0
RECOVERED_WITHIN_S = 5.0  # back to normal this soon after the load: yes
NORMAL_FACTOR = 3.0  # "about as fast as before": within 3x the baseline (at least 50 ms)
NORMAL_FLOOR_S = 0.05

THRESHOLDS = (
    f"Capacity: a closed loop of {CAPACITY_CONNECTIONS} connections on {PATH} for "
    f"{CAPACITY_WINDOW_S:g} s. Overload: {OVERLOAD_FACTOR} times that rate, due on a fixed "
    f"schedule from {OVERLOAD_CONNECTIONS} connections, for {OVERLOAD_WINDOW_S:g} s "
    f"(openload; a request unanswered for {REQUEST_TIMEOUT_S:g} s fails). Then a request every "
    f"{RECOVERY_POLL_S:g} s until one is answered within {NORMAL_FACTOR:g} times the "
    f"pre-load median (at least {NORMAL_FLOOR_S * 1000:.0f} ms), for up to "
    f"{RECOVERY_LIMIT_S:g} s. Outcome: yes = back to normal within {RECOVERED_WITHIN_S:g} s of "
    "the load's end; partial = back later; no = not back within "
    f"{RECOVERY_LIMIT_S:g} s (or the server died). Run alone on the machine."
)


def _single(client: httpx.Client, url: str) -> float | None:
    """Seconds to answer one GET with 200; None if it failed or timed out."""
    began = time.monotonic()
    try:
        response = client.get(url)
    except httpx.HTTPError:
        return None
    return time.monotonic() - began if response.status_code == 200 else None


def baseline_s(url: str) -> float | None:
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        times = [_single(client, url) for _ in range(BASELINE_REQUESTS)]
    answered = [value for value in times if value is not None]
    return statistics.median(answered) if answered else None


def recovery(url: str, normal_s: float) -> dict[str, Any]:
    """Poll with a new connection each time (a fresh client, as after a proxy's retry)."""
    began = time.monotonic()
    polls: list[dict[str, Any]] = []
    while (elapsed := time.monotonic() - began) < RECOVERY_LIMIT_S:
        with httpx.Client(timeout=min(REQUEST_TIMEOUT_S, RECOVERY_LIMIT_S - elapsed)) as client:
            took = _single(client, url)
        polls.append(
            {"at_s": round(elapsed, 3), "took_s": None if took is None else round(took, 4)}
        )
        if took is not None and took <= normal_s:
            return {"recovered_after_s": round(elapsed + took, 3), "polls": polls[-40:]}
        time.sleep(RECOVERY_POLL_S)
    return {"recovered_after_s": None, "polls": polls[-40:]}


def _load(url: str, rate: float, connections: int, window_s: float, scratch) -> dict[str, Any]:
    request = OpenloadRequest(
        url=url,
        rate=rate,
        connections=connections,
        warmup_s=0.5 if rate == 0 else 0.0,
        duration_s=window_s,
        drain_s=0.5,
        timeout_s=REQUEST_TIMEOUT_S,
    )
    measurement = run_openload(request, scratch)
    result = (measurement.details or {}).get("result") or {}
    return {
        "failure": measurement.failure,
        "metrics": measurement.metrics,
        "counts": {
            key: result.get(key)
            for key in (
                "scheduled",
                "answered",
                "non2xx",
                "errored",
                "timed_out",
                "unanswered",
                "connect_errors",
                "connections_lost",
            )
        },
        "statuses": result.get("statuses"),
    }


def _under_load(overload: dict[str, Any], capacity_per_s: float) -> str:
    counts, metrics = overload["counts"], overload["metrics"] or {}
    scheduled = counts.get("scheduled") or 0
    if not scheduled:
        return f"the overload run failed: {overload['failure']}"

    def share(key: str) -> str:
        return f"{100 * (counts.get(key) or 0) / scheduled:.0f} %"

    answered = metrics.get("answered_per_s") or 0.0
    p99 = metrics.get("latency_p99_ms")
    latency = f"p99 {p99:.0f} ms" if p99 is not None else "p99 later than the run waited"
    return (
        f"it answered {answered:.0f}/s ({100 * answered / capacity_per_s:.0f} % of its "
        f"capacity, {latency}); of the requests due, {share('non2xx')} got an error status, "
        f"{share('errored')} lost their connection, {share('timed_out')} timed out and "
        f"{share('unanswered')} were still waiting when the run ended"
    )


def judge(
    capacity_per_s: float, overload: dict[str, Any], back: dict[str, Any], alive: bool
) -> tuple[str, str]:
    asked = OVERLOAD_FACTOR * capacity_per_s
    said = (
        f"capacity {capacity_per_s:.0f} requests/s; asked for {asked:.0f}/s: "
        f"{_under_load(overload, capacity_per_s)}"
    )
    recovered = back["recovered_after_s"]
    if not alive:
        return "no", f"The server died under overload; {said}."
    if recovered is None:
        return "no", f"Not back to normal within {RECOVERY_LIMIT_S:g} s after the load; {said}."
    if recovered > RECOVERED_WITHIN_S:
        return "partial", f"Back to normal only {recovered:.1f} s after the load; {said}."
    return "yes", f"Back to normal {recovered:.1f} s after the load; {said}."


def capacity_connections(declared: int | None) -> int:
    """Connections of the closed loop: enough to keep every declared request slot busy."""
    return CAPACITY_CONNECTIONS if declared is None else max(CAPACITY_CONNECTIONS, 2 * declared)


def run(context: CheckContext) -> Finding:
    assert context.launcher is not None
    url = context.url("json_sync")
    scratch = context.launcher.scratch
    before = baseline_s(url)
    sized = context.capacity_text()
    evidence: dict[str, Any] = {
        "instance": context.shared.describe(),
        "declared_capacity": context.capacity(),
        "sized": sized,
        "baseline_s": before,
    }
    if before is None:
        return Finding("error", "The server did not answer before the load.", evidence)
    connections = capacity_connections(context.capacity())
    capacity = _load(url, 0, connections, CAPACITY_WINDOW_S, scratch)
    evidence["capacity"] = capacity
    capacity_per_s = (capacity["metrics"] or {}).get("answered_per_s")
    if not capacity_per_s:
        return Finding("error", f"No capacity measured: {capacity['failure']}", evidence)
    overload = _load(
        url, OVERLOAD_FACTOR * capacity_per_s, OVERLOAD_CONNECTIONS, OVERLOAD_WINDOW_S, scratch
    )
    evidence["overload"] = overload
    back = recovery(url, max(NORMAL_FACTOR * before, NORMAL_FLOOR_S))
    evidence["recovery"] = back
    alive = context.shared.process.exit_code() is None
    outcome, summary = judge(capacity_per_s, overload, back, alive)
    return Finding(outcome, f"{summary} Sized as deployed: {sized}.", evidence)


CHECKS = [
    Check(
        heavy=True,
        id="overload",
        title="Overload and recovery",
        group=GROUP,
        question=(
            "Asked for ten times the load it can answer, how does the server fail, and is it "
            "back to normal soon after the load ends?"
        ),
        thresholds=THRESHOLDS,
        run=run,
    ),
]
