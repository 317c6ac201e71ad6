"""The overload check: the highest rate the server answers as deployed, then twice and ten
times that rate on a fixed schedule, and whether it comes back after each. On an instance of
its own, started for the check with the production command (see ``run``).

1. Baseline: a few single requests on /json/sync, the server's unloaded latency.
2. Maximum rate: a closed loop (each connection sends its next request when the last one is
   answered) of max(50, 2 x the declared capacity) connections, so that every request slot
   of the production sizing is busy; after a warm-up, the answers that arrive inside the
   window are the maximum rate.
3. Overload at 2x and 10x that rate: an open model (``overload_generator.py``), requests due
   on a schedule whether or not earlier ones were answered, from at most CONNECTION_BOUND
   connections; a request not answered CLIENT_TIMEOUT_S after it was due is given up. What
   the server does with the excess is its own: refuse it at once (503, a refused or reset
   connection) or queue it. Each load is reported with its answered rate (by arrival inside
   the window), the latency of the answered requests, what was shed and how, what was given
   up at the timeout and what was still outstanding at the end, second by second.
4. After each load, a request every quarter second on a new connection until one is answered
   about as fast as before the load: the recovery time. A server not back within the limit
   is not given the next load.

The rule (``overload_verdict``) asks for bounded waits or explicit refusal, never a queue that
grows for as long as the load lasts."""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from evidence.layout import REPO_ROOT
from harness.benchmarks.tool_process import run_tool
from harness.checks import Check, CheckContext, Finding
from harness.checks.hazards import overload_verdict as verdict
from harness.checks.hazards._shared import GROUP
from harness.launcher import Instance

PATH = "/json/sync"
GENERATOR = Path(__file__).with_name("overload_generator.py")
CLOSED_CONNECTIONS = 50  # at least; twice the declared capacity where that is more
WARMUP_S = 1.0
MAX_RATE_WINDOW_S = 5.0
FACTORS = (2, 10)
# With the 5 s client timeout, a queue that grows at 2x reaches the timeout within 5 s and one
# at 10x within 0.6 s; a bounded one is steady at once. 15 s leaves 10 s of that steady state.
OVERLOAD_WINDOW_S = 15.0
CLIENT_TIMEOUT_S = 5.0
# Open connections at most: far above every declared capacity (24 at most) and the limits the
# servers' options set (100), so that a server's own limits, not ours, meet the excess first;
# below the kernel's listen backlog (somaxconn 4096) and any file limit we raise to.
CONNECTION_BOUND = 1000
GENERATOR_MARGIN_S = 15.0  # beyond its window: start-up, connections, exit
# A generator on the CPU for this share of its window set the pace itself: no verdict.
SATURATED_SHARE = 0.9
BASELINE_REQUESTS = 5
RECOVERY_POLL_S = 0.25
RECOVERY_LIMIT_S = 10.0
NORMAL_FACTOR = 3.0  # "about as fast as before": within 3x the baseline (at least 50 ms)
NORMAL_FLOOR_S = 0.05

THRESHOLDS = (
    f"On an instance of its own, alone on the machine. Maximum rate: a closed loop on {PATH} "
    f"of max({CLOSED_CONNECTIONS}, 2 x the declared capacity) connections, "
    f"{MAX_RATE_WINDOW_S:g} s after {WARMUP_S:g} s of warm-up (answers counted when they "
    "arrive). Then "
    + " and ".join(f"{factor}x" for factor in FACTORS)
    + f" that rate, each for {OVERLOAD_WINDOW_S:g} s: requests due on a fixed schedule "
    f"whatever was answered, from at most {CONNECTION_BOUND} connections, each given up "
    f"{CLIENT_TIMEOUT_S:g} s after it was due (so at most rate x {CLIENT_TIMEOUT_S:g} s "
    f"outstanding); after each, a request every {RECOVERY_POLL_S:g} s until one is answered "
    f"within {NORMAL_FACTOR:g} times the unloaded median (at least "
    f"{NORMAL_FLOOR_S * 1000:.0f} ms), for up to {RECOVERY_LIMIT_S:g} s. A load is held when "
    f"the answered requests' p99 is at most {verdict.LATENCY_BOUND_S:g} s, at most "
    f"{verdict.GIVEN_UP_LIMIT:.0%} of its requests are given up, the requests outstanding at "
    f"its end are at most {verdict.LATENCY_BOUND_S:g} s of arrivals, and at least "
    f"{verdict.GOODPUT_FLOOR:.0%} of the maximum rate is answered (the excess refused: error "
    "statuses, refused, reset or closed connections); swamped when the given-up or "
    "outstanding requests outgrow that bound while the p99 does too or less than "
    f"{verdict.GOODPUT_FLOOR:.0%} of the maximum rate is answered (an unbounded queue). "
    f"Outcome: yes = every load held and the server back to normal within "
    f"{verdict.RECOVERED_WITHIN_S:g} s of each; no = a load swamped, the server died, or it "
    f"was not back within {RECOVERY_LIMIT_S:g} s (the next load is then not sent); partial = "
    "anything between (fast answers while other requests starved, a slow queue that did not "
    "grow, too much refused, a slow recovery); error = the load generator was on the CPU for "
    f"{SATURATED_SHARE:.0%} of a window (its figures would be its own)."
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
    with httpx.Client(timeout=CLIENT_TIMEOUT_S) as client:
        times = [_single(client, url) for _ in range(BASELINE_REQUESTS)]
    answered = [value for value in times if value is not None]
    return statistics.median(answered) if answered else None


def recovery(url: str, normal_s: float) -> dict[str, Any]:
    """Poll with a new connection each time (a fresh client, as after a proxy's retry)."""
    began = time.monotonic()
    polls: list[dict[str, Any]] = []
    back: float | None = None
    while back is None and (elapsed := time.monotonic() - began) < RECOVERY_LIMIT_S:
        with httpx.Client(timeout=min(CLIENT_TIMEOUT_S, RECOVERY_LIMIT_S - elapsed)) as client:
            took = _single(client, url)
        polls.append(
            {"at_s": round(elapsed, 3), "took_s": None if took is None else round(took, 4)}
        )
        if took is not None and took <= normal_s:
            back = round(elapsed + took, 3)
        else:
            time.sleep(RECOVERY_POLL_S)
    return {
        "recovered_after_s": back,
        "normal_s": round(normal_s, 4),
        "limit_s": RECOVERY_LIMIT_S,
        "polls": polls[-40:],
    }


def generate(url: str, *options: str, window_s: float) -> dict[str, Any]:
    """One run of the load generator: its result, or a failure; with its command as a reader
    would type it in the repository (any Python 3.12: it needs the standard library only)."""
    arguments = ["--url", url, *options]
    command = ["python", str(GENERATOR.relative_to(REPO_ROOT)), *arguments]
    finished = run_tool(
        [sys.executable, str(GENERATOR), *arguments], WARMUP_S + window_s + GENERATOR_MARGIN_S
    )
    try:
        result = json.loads(finished.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = " | ".join(finished.stderr.strip().splitlines()[-3:]) or "no output"
        return {"failure": f"the load generator printed no result: {tail}", "command": command}
    return {"failure": None, "command": command, **result}


def max_rate_phase(url: str, declared: int | None) -> dict[str, Any]:
    return generate(
        url,
        "--mode=closed",
        f"--connections={closed_connections(declared)}",
        f"--warmup={WARMUP_S:g}",
        f"--window={MAX_RATE_WINDOW_S:g}",
        f"--timeout={CLIENT_TIMEOUT_S:g}",
        window_s=MAX_RATE_WINDOW_S,
    )


def overload_phase(url: str, rate: float) -> dict[str, Any]:
    return generate(
        url,
        "--mode=open",
        f"--rate={rate:.3f}",
        f"--bound={CONNECTION_BOUND}",
        f"--window={OVERLOAD_WINDOW_S:g}",
        f"--timeout={CLIENT_TIMEOUT_S:g}",
        window_s=OVERLOAD_WINDOW_S,
    )


def saturated(phase: dict[str, Any]) -> str | None:
    """Why the generator, not the server, may have set the pace of a load; None if it had
    CPU to spare."""
    cpu_s, window_s = phase["generator"]["cpu_s"], phase["window_s"]
    if cpu_s < SATURATED_SHARE * window_s:
        return None
    return f"the load generator was on the CPU for {cpu_s:.1f} s of the {window_s:g} s window"


def closed_connections(declared: int | None) -> int:
    """Connections of the closed loop: enough to keep every declared request slot busy."""
    return CLOSED_CONNECTIONS if declared is None else max(CLOSED_CONNECTIONS, 2 * declared)


def run(context: CheckContext) -> Finding:
    """On an instance of its own (the production command, started for this check): a server
    still draining the overload's queue must not fail the checks that follow on the shared
    one, and what those left behind must not weigh on this one."""
    assert context.launcher is not None
    with context.launcher.launch("http") as instance:
        return measure(context, instance)


def measure(context: CheckContext, instance: Instance) -> Finding:
    url = instance.url(context.endpoints["json_sync"])
    sized = context.capacity_text()
    before = baseline_s(url)
    evidence: dict[str, Any] = {
        "instance": instance.describe(),
        "declared_capacity": context.capacity(),
        "sized": sized,
        "baseline_s": before,
        "load": {
            "closed_connections": closed_connections(context.capacity()),
            "warmup_s": WARMUP_S,
            "max_rate_window_s": MAX_RATE_WINDOW_S,
            "factors": list(FACTORS),
            "overload_window_s": OVERLOAD_WINDOW_S,
            "client_timeout_s": CLIENT_TIMEOUT_S,
            "connection_bound": CONNECTION_BOUND,
            "latency_bound_s": verdict.LATENCY_BOUND_S,
        },
    }
    if before is None:
        return Finding("error", "The server did not answer before the load.", evidence)
    evidence["max_rate"] = top = max_rate_phase(url, context.capacity())
    max_rate = top.get("answered_per_s")
    if top["failure"] or not max_rate:
        reason = top["failure"] or "nothing was answered in the closed loop"
        return Finding("error", f"No maximum rate measured: {reason}.", evidence)
    if busy := saturated(top):
        return Finding("error", f"No maximum rate measured: {busy}.", evidence)
    normal_s = max(NORMAL_FACTOR * before, NORMAL_FLOOR_S)
    evidence["overloads"] = overloads = []
    for factor in FACTORS:
        phase = overload_phase(url, factor * max_rate)
        if problem := phase["failure"] or saturated(phase):
            evidence["unjudged"] = {"factor": factor, "phase": phase}
            return Finding("error", f"The {factor}x load cannot be judged: {problem}.", evidence)
        state, reason = verdict.judge_phase(phase, max_rate)
        load = {"factor": factor, "state": state, "reason": reason, "phase": phase}
        overloads.append(load)
        load["recovery"] = recovery(url, normal_s)
        if load["recovery"]["recovered_after_s"] is None:
            break
    alive = instance.process.exit_code() is None
    outcome, lead = verdict.judge(overloads, alive)
    unsent = [f"{factor}x" for factor in FACTORS[len(overloads) :]]
    figures = [
        verdict.describe_phase(load["factor"], load["phase"], max_rate)
        + _recovered(load["recovery"])
        for load in overloads
    ] + [f"The {factor} load was not sent (the server had not recovered)" for factor in unsent]
    summary = (
        f"{lead} Judged against its maximum rate, {max_rate:.0f}/s (a closed loop of "
        f"{top['connections']} connections; sized as deployed: {sized}). "
        + ". ".join(figures)
        + "."
    )
    return Finding(outcome, summary, evidence)


def _recovered(back: dict[str, Any]) -> str:
    after = back["recovered_after_s"]
    if after is None:
        return f"; not back to normal within {back['limit_s']:g} s"
    return f"; back to normal {after:.2f} s later"


CHECKS = [
    Check(
        heavy=True,
        id="overload",
        title="Overload and recovery",
        group=GROUP,
        question=(
            "Asked for twice and ten times the rate it can answer, does the server keep the "
            "wait of what it answers bounded (refusing the excess) or let a queue grow, and is "
            "it back to normal soon after?"
        ),
        thresholds=THRESHOLDS,
        run=run,
    ),
]
