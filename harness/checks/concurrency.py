"""Does a sleeping view block the others? N parallel requests to a 1-second sleep view.

The articles this project grew from sent two requests at once and timed them. The second batch
is one request more than the server's declared capacity (workers x threads, as it is deployed
here), so the verdict says whether that capacity is real and what the first request beyond it
met; a server that declares no bound (event loops, greenlets) gets ten, which separates "a few
threads" from "truly concurrent".
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import httpx

from harness.checks import Check, CheckContext, Finding

SLEEP_S = 1.0
BATCH_SIZES = (2, 10)  # for servers that declare no capacity
# A batch is "concurrent" when it finishes within this many sleeps of wall time...
CONCURRENT_WITHIN = 1.5
# ...and "serialised" when it takes at least this share of N sleeps (one at a time).
SERIALISED_FROM = 0.9
THRESHOLDS = (
    f"N = 2, then the server's declared capacity (workers x threads as deployed) + 1, or "
    f"{BATCH_SIZES[1]} where it declares none (event loops, greenlets). "
    f"For N parallel requests to a {SLEEP_S:g} s sleep: concurrent when the median wall time "
    f"is at most {CONCURRENT_WITHIN:g} x {SLEEP_S:g} s; serialised when it is at least "
    f"{SERIALISED_FROM:g} x N x {SLEEP_S:g} s; limited in between. Outcome: yes when every N is "
    "concurrent; no when N=2 is serialised or its requests fail; partial otherwise."
)


def batch_sizes(capacity: int | None) -> tuple[int, ...]:
    """Two at once, then the first request beyond a declared capacity (or ten without one)."""
    if capacity is None:
        return BATCH_SIZES
    return tuple(sorted({BATCH_SIZES[0], capacity + 1}))


def ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10)
    return f"{number}{suffix or 'th'}"


def beyond_capacity(capacity: int | None, sized: str, batches: list[dict[str, Any]]) -> str:
    """What the request after the declared capacity met, in words."""
    if capacity is None:
        return f"Sized as deployed: {sized}."
    beyond = next((batch for batch in batches if batch["n"] == capacity + 1), None)
    if beyond is None or beyond["classification"] == "failed":
        return f"Sized as deployed: {sized}."
    if beyond["classification"] == "concurrent":
        return f"Sized as deployed: {sized}; even the {ordinal(capacity + 1)} request ran at once."
    at_once = beyond["answered_in_first_round"]
    if at_once < capacity:
        # The declared capacity was not reached: e.g. workers that each accept connections
        # their busy threads cannot serve yet, while another worker's threads sit idle.
        return (
            f"Sized as deployed: {sized}; only {at_once:g} of the {capacity + 1} requests were "
            f"answered at once, fewer than the {capacity} it declares."
        )
    return f"Sized as deployed: {sized}; the {ordinal(capacity + 1)} request waited."


async def _timed_batch(url: str, size: int) -> dict[str, Any]:
    """Send ``size`` requests at once on separate connections; time each and the whole."""
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=0)
    timeout = httpx.Timeout(SLEEP_S * size + 30)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        origin = time.perf_counter()

        async def one() -> dict[str, Any]:
            started = time.perf_counter() - origin
            try:
                response = await client.get(url)
            except httpx.HTTPError as error:
                status, problem = None, f"{type(error).__name__}: {error}"[:300]
            else:
                status = response.status_code
                problem = None if status == 200 else f"HTTP {status}"
            finished = time.perf_counter() - origin
            return {"start_s": started, "end_s": finished, "status": status, "error": problem}

        requests = await asyncio.gather(*(one() for _ in range(size)))
        wall = time.perf_counter() - origin
    return {"wall_s": wall, "requests": requests}


def answered_in_first_round(repeat: dict[str, Any]) -> int:
    """How many requests were answered as if they had run at once: the server's real limit
    when it is limited (8 threads answer 8 of 10 in the first second, the rest a second later)."""
    return sum(
        1
        for request in repeat["requests"]
        if not request["error"] and request["end_s"] <= CONCURRENT_WITHIN * SLEEP_S
    )


def classify(size: int, wall_s: float, failures: int) -> str:
    if failures:
        return "failed"
    if wall_s <= CONCURRENT_WITHIN * SLEEP_S:
        return "concurrent"
    if wall_s >= SERIALISED_FROM * size * SLEEP_S:
        return "serialised"
    return "limited"


def _measure(context: CheckContext, endpoint: str) -> list[dict[str, Any]]:
    url = context.url(endpoint, f"seconds={SLEEP_S:g}")
    warm = httpx.get(context.url(endpoint, "seconds=0"), timeout=30)  # lazy imports, first DB hit
    warm.raise_for_status()
    batches = []
    for size in batch_sizes(context.capacity()):
        repeats = [asyncio.run(_timed_batch(url, size)) for _ in range(context.profile.repeats)]
        failures = max(
            sum(1 for request in repeat["requests"] if request["error"]) for repeat in repeats
        )
        median_wall = statistics.median(repeat["wall_s"] for repeat in repeats)
        first_round = statistics.median(answered_in_first_round(repeat) for repeat in repeats)
        batches.append(
            {
                "n": size,
                "median_wall_s": median_wall,
                "parallelism": size * SLEEP_S / median_wall,
                "answered_in_first_round": first_round,
                "failed_requests": failures,
                "classification": classify(size, median_wall, failures),
                "repeats": repeats,
            }
        )
    return batches


def _describe(batch: dict[str, Any]) -> str:
    if batch["classification"] == "failed":
        return f"{batch['failed_requests']} of {batch['n']} requests failed"
    text = f"{batch['n']} took {batch['median_wall_s']:.2f} s"
    if batch["classification"] != "concurrent":
        text += f" ({batch['answered_in_first_round']:g} answered within the first sleep)"
    return text


def judge(batches: list[dict[str, Any]]) -> str:
    classes = [batch["classification"] for batch in batches]
    if all(kind == "concurrent" for kind in classes):
        return "yes"
    if classes[0] in ("serialised", "failed"):
        return "no"
    return "partial"


def _run(endpoint: str, kind: str):
    def run(context: CheckContext) -> Finding:
        batches = _measure(context, endpoint)
        outcome = judge(batches)
        lead = {"yes": "Concurrent", "no": "Blocking", "partial": "Partly concurrent"}[outcome]
        if batches[0]["classification"] == "failed":
            lead = "Requests fail"
        capacity, sized = context.capacity(), context.capacity_text()
        summary = (
            f"{lead}: parallel {SLEEP_S:g} s {kind} sleeps, "
            + "; ".join(_describe(batch) for batch in batches)
            + ". "
            + beyond_capacity(capacity, sized, batches)
        )
        evidence = {
            "capacity": capacity,
            "sized": sized,
            "path": context.endpoints[endpoint],
            "sleep_s": SLEEP_S,
            "repeats_per_batch": context.profile.repeats,
            "batches": batches,
        }
        return Finding(outcome, summary, evidence)

    return run


CHECKS = [
    Check(
        timed=True,
        id="concurrency-sync-sleep",
        title="Sync view concurrency",
        group="Concurrency",
        question=(
            "Do parallel requests to a sync view that calls time.sleep(1) run at the same time?"
        ),
        thresholds=THRESHOLDS,
        run=_run("sleep_sync", "sync"),
    ),
    Check(
        timed=True,
        id="concurrency-async-sleep",
        title="Async view concurrency",
        group="Concurrency",
        question=(
            "Do parallel requests to an async view that awaits asyncio.sleep(1) run at the "
            "same time?"
        ),
        thresholds=THRESHOLDS,
        run=_run("sleep_async", "async"),
    ),
]
