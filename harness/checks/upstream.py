"""Slow upstream, the aggregation scenario: does a view that makes three calls of 300, 600 and
150 ms to a slow external API finish in about the longest call (600 ms) or their sum (1,050 ms)?

The sample project has three such views: one after another (the reference), in a thread pool
(a sync view) and with ``asyncio.gather`` (an async view). The external API is the upstream
service of the capture (harness/upstream.py), the same process for every server.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx

from harness.checks import Check, CheckContext, Finding
from harness.upstream import ENV_VARIABLE, UpstreamService

DELAYS_MS = (300, 600, 150)  # what the views ask of the upstream (demo/upstream.py)
SUM_MS = sum(DELAYS_MS)
LONGEST_MS = max(DELAYS_MS)
PARALLEL_AT_MOST = 0.8  # x the sum of the delays: 840 ms
SEQUENTIAL_FROM = 0.9  # x the sum of the delays: 945 ms
# Faster than this share of the longest delay means the upstream was not really called.
PLAUSIBLE_FROM = 0.95
REQUEST_TIMEOUT_S = 30.0
PROBE_TIMEOUT_S = 5.0
BODY_EXCERPT_CHARS = 500
LOG_EXCERPT_CHARS = 3000
THRESHOLDS = (
    f"Each repeat of the profile requests the view once, and the sequential view once as the "
    f"reference, after one warm-up request of each. The median client-side time of the "
    f"requests that answered correctly (200, three countries) decides: parallel when at most "
    f"{PARALLEL_AT_MOST:g} x the sum of the delays ({PARALLEL_AT_MOST * SUM_MS:.0f} ms), "
    f"sequential when at least {SEQUENTIAL_FROM:g} x the sum ({SEQUENTIAL_FROM * SUM_MS:.0f} "
    f"ms), partly parallel in between. yes: parallel and every request correct; partial: "
    f"partly parallel, or parallel but some requests failed; no: sequential, or every request "
    f"failed. error: the upstream service is not running, or the view answered faster than "
    f"{PLAUSIBLE_FROM:g} x the longest delay ({PLAUSIBLE_FROM * LONGEST_MS:.0f} ms), which "
    f"means the delays were not applied. The views' own elapsed_ms are kept beside."
)


def server_log_since(context: CheckContext, offset: int) -> str:
    """What the shared server logged since ``offset`` (store only an excerpt of it)."""
    return context.shared.log_text()[offset:]


def last_exception_line(log: str) -> str | None:
    """``SomeError: message`` ending the last traceback of a log (the reason behind a 500),
    with the exception's module path left out."""
    found, in_traceback = None, False
    for line in log.splitlines():
        if line.startswith("Traceback (most recent call last):"):
            in_traceback = True
        elif in_traceback and line and not line[0].isspace():
            found, in_traceback = line, False
    if found is None:
        return None
    name, _, message = found.partition(":")
    return f"{name.rsplit('.', 1)[-1]}:{message}"[:300]


def _body_problem(response: httpx.Response, mode: str) -> str | None:
    """Why an aggregation response is not a correct one, or None."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        return "HTTP 200 but the body is not JSON"
    countries = body.get("countries") if isinstance(body, dict) else None
    if not (isinstance(countries, list) and len(countries) == len(DELAYS_MS)):
        return f"HTTP 200 but not {len(DELAYS_MS)} countries"
    if body.get("mode") != mode:
        return f"HTTP 200 but mode is {body.get('mode')!r}, not {mode!r}"
    elapsed = body.get("elapsed_ms")
    if not isinstance(elapsed, int | float) or not math.isfinite(elapsed):
        return "HTTP 200 but no elapsed_ms"
    return None


def call_view(client: httpx.Client, url: str, mode: str) -> dict[str, Any]:
    """One request to an aggregation view: client-side time, the view's own time, status."""
    started = time.perf_counter()
    try:
        response = client.get(url)
    except httpx.HTTPError as error:
        client_ms = (time.perf_counter() - started) * 1000
        problem = f"{type(error).__name__}: {error}"[:300]
        return {"mode": mode, "status": None, "client_ms": client_ms, "problem": problem}
    client_ms = (time.perf_counter() - started) * 1000
    sample: dict[str, Any] = {
        "mode": mode,
        "status": response.status_code,
        "client_ms": client_ms,
        "problem": _body_problem(response, mode),
    }
    if sample["problem"] is None:
        body = response.json()
        sample.update(elapsed_ms=float(body["elapsed_ms"]), countries=body["countries"])
    else:
        sample["body_excerpt"] = response.text[:BODY_EXCERPT_CHARS]
    return sample


def classify(median_client_ms: float) -> str:
    if median_client_ms < PLAUSIBLE_FROM * LONGEST_MS:
        return "implausible"
    if median_client_ms <= PARALLEL_AT_MOST * SUM_MS:
        return "parallel"
    if median_client_ms >= SEQUENTIAL_FROM * SUM_MS:
        return "sequential"
    return "partly parallel"


def summarise(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the correct answers, and what went wrong with the others."""
    good = [sample for sample in samples if sample["problem"] is None]
    summary: dict[str, Any] = {
        "requests": len(samples),
        "correct": len(good),
        "problems": sorted({sample["problem"] for sample in samples if sample["problem"]}),
        "median_client_ms": None,
        "median_elapsed_ms": None,
        "classification": "failed",
    }
    if good:
        summary["median_client_ms"] = statistics.median(s["client_ms"] for s in good)
        summary["median_elapsed_ms"] = statistics.median(s["elapsed_ms"] for s in good)
        summary["classification"] = classify(summary["median_client_ms"])
    return summary


def judge(summary: dict[str, Any]) -> str:
    classification = summary["classification"]
    if classification == "implausible":
        return "error"
    if classification in ("failed", "sequential"):
        return "no"
    if classification == "parallel" and summary["correct"] == summary["requests"]:
        return "yes"
    return "partial"


def upstream_problem(service: UpstreamService | None, context: CheckContext) -> str | None:
    """Why the upstream cannot serve this check, or None when it answers."""
    if service is None:
        return "was not started for this capture"
    if service.problem:
        return service.problem
    if not service.running:
        return "is no longer running"
    given = context.launcher.base_env.get(ENV_VARIABLE) if context.launcher else None
    if context.launcher is not None and given != service.base_url:
        return f"was not given to the server ({ENV_VARIABLE}={given!r})"
    try:
        response = httpx.get(service.api_url(0), timeout=PROBE_TIMEOUT_S)
    except httpx.HTTPError as error:
        return f"does not answer ({type(error).__name__}: {error})"
    if response.status_code != 200:
        return f"answers HTTP {response.status_code}"
    return None


def _seconds(milliseconds: float | None) -> str:
    return "-" if milliseconds is None else f"{milliseconds / 1000:.2f} s"


def _reference_text(reference: dict[str, Any]) -> str:
    if reference["correct"]:
        return f"sequential {_seconds(reference['median_client_ms'])}"
    return f"sequential failed ({', '.join(reference['problems'])})"


def _failure_text(summary: dict[str, Any], log: str) -> str:
    text = f"{summary['requests'] - summary['correct']} of {summary['requests']} failed with "
    text += ", ".join(summary["problems"])
    reason = last_exception_line(log)
    return text + (f" ({reason})" if reason else "")


def summary_line(label: str, summary: dict[str, Any], reference: dict[str, Any], log: str) -> str:
    """The one line a reader sees: both times, and what failed."""
    detail = "calls of 300, 600 and 150 ms"
    if summary["correct"] > 1:
        detail += f", median of {summary['correct']}"
    times = f"{label} {_seconds(summary['median_client_ms'])} vs {_reference_text(reference)}"
    lead = {
        "parallel": "Parallel",
        "partly parallel": "Partly parallel",
        "sequential": "Not parallel",
        "implausible": "Not measured: faster than the longest upstream call",
    }
    if summary["classification"] == "failed":
        return (
            f"The {label} view fails: {_failure_text(summary, log)}; {_reference_text(reference)}."
        )
    line = f"{lead[summary['classification']]}: {times} ({detail})"
    if summary["correct"] < summary["requests"]:
        line += f", but {_failure_text(summary, log)}"
    return line + "."


def _measure(context: CheckContext, endpoint: str, mode: str) -> dict[str, Any]:
    sequential_url = context.url("upstream_sequential")
    url = context.url(endpoint)
    samples: dict[str, list[dict[str, Any]]] = {"sequential": [], mode: []}
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        # Lazy imports and the first connection to the upstream happen here, not in a repeat.
        warmup = [call_view(client, sequential_url, "sequential"), call_view(client, url, mode)]
        for _ in range(context.profile.repeats):
            samples["sequential"].append(call_view(client, sequential_url, "sequential"))
            samples[mode].append(call_view(client, url, mode))
    return {"warmup": warmup, "samples": samples}


def _run(endpoint: str, mode: str, label: str) -> Callable[[CheckContext], Finding]:
    def run(context: CheckContext) -> Finding:
        service = context.upstream
        evidence: dict[str, Any] = {
            "instance": context.shared.describe(),
            "upstream": service.describe() if service else None,
            "path": context.endpoints[endpoint],
            "reference_path": context.endpoints["upstream_sequential"],
            "delays_ms": list(DELAYS_MS),
            "repeats": context.profile.repeats,
        }
        problem = upstream_problem(service, context)
        if problem:
            return Finding("error", f"Not measured: the upstream service {problem}.", evidence)
        log_offset = len(context.shared.log_text())
        measured = _measure(context, endpoint, mode)
        summary = summarise(measured["samples"][mode])
        reference = summarise(measured["samples"]["sequential"])
        log = server_log_since(context, log_offset)
        evidence.update(measured, summary=summary, reference=reference)
        if summary["correct"] < summary["requests"] or not reference["correct"]:
            evidence["server_log"] = log[-LOG_EXCERPT_CHARS:]
        if service is not None and not service.running:
            evidence["upstream"] = service.describe()
            return Finding("error", "Not measured: the upstream service exited.", evidence)
        return Finding(judge(summary), summary_line(label, summary, reference, log), evidence)

    return run


CHECKS = [
    Check(
        timed=True,
        id="upstream-threadpool",
        title="Slow upstream: thread pool",
        group="Slow upstream",
        question=(
            "Do three upstream calls of 300, 600 and 150 ms made from a sync view with a thread "
            "pool finish in about 600 ms rather than about 1,050 ms?"
        ),
        thresholds=THRESHOLDS,
        run=_run("upstream_threadpool", "threadpool", "threadpool"),
    ),
    Check(
        timed=True,
        id="upstream-async",
        title="Slow upstream: asyncio.gather",
        group="Slow upstream",
        question=(
            "Do three upstream calls of 300, 600 and 150 ms made from an async view with "
            "asyncio.gather finish in about 600 ms rather than about 1,050 ms?"
        ),
        thresholds=THRESHOLDS,
        run=_run("upstream_async", "async", "async"),
    ),
]
# The capture starts the upstream service only when one of these is selected.
USES_UPSTREAM = frozenset(check.id for check in CHECKS)
