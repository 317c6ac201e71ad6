"""Why an h2load run is no valid figure, and the failure texts that scenarios retry longer."""

from __future__ import annotations

import math

from harness.benchmarks.h2load.command import H2loadRequest
from harness.benchmarks.h2load.output import RequestLog, Summary

FIXED_RATE_MIN_FRACTION = 0.98  # below this the server set the pace: not a fixed-rate figure
TOO_SHORT = "the run was too short for this load"  # scenarios retry such runs, longer
HUNG = "h2load did not finish"  # ... and these: a longer run may end cleanly
NOTHING_ANSWERED = "no request was answered"  # ... and these: connections may still be opening
STALE_TOLERANCE_S = 1.0  # the last answered request may start this long before the end


def failure_reason(
    request: H2loadRequest,
    summary: Summary,
    log: RequestLog | None,
    output_line: str,
    ended_at_s: float,
) -> str | None:
    """Why this run is no valid figure, or None; ``ended_at_s`` is when h2load exited (epoch)."""
    if not summary.complete:
        return f"h2load printed no summary ({output_line})"
    if summary.application_protocol is None and summary.tls_protocol is not None:
        return (
            f"the TLS handshake worked ({summary.tls_protocol}) but the server did not agree to"
            f" {request.protocol} by ALPN"
        )
    if summary.application_protocol is None:
        return f"no connection could be made ({output_line})"
    if summary.application_protocol != request.protocol:
        return f"h2load spoke {summary.application_protocol}, not the {request.protocol} asked for"
    counts = summary.counts or {}
    if counts["done"] == 0 and counts["started"] > 0 and counts["failed"] == counts["errored"] == 0:
        # Requests sent and none failed: they were still waiting for their answers when the
        # run ended. A slow server under many new connections, not a broken one.
        return (
            f"{TOO_SHORT}: no answer arrived within the {request.duration_s:g} s main duration"
            f" ({counts['started']} requests sent, none answered, none failed)"
        )
    if counts["done"] == 0 or log is None or log.last_answered_start_us is None:
        return (
            f"{NOTHING_ANSWERED} in the main duration ({counts['started']} started,"
            f" {counts['done']} done): the server dropped the connections, never answered,"
            f" or does not speak {request.protocol}"
        )
    # A paced run is judged by its achieved rate instead: h2load paces each client in bursts,
    # so its last request may start well before the end, and a stall lowers the rate anyway.
    paced = request.rps_per_client is not None
    if (
        request.requests is None
        and not paced
        and (reason := stale_reason(request, log, ended_at_s))
    ):
        return reason
    return fixed_rate_reason(request, summary)


def stale_reason(request: H2loadRequest, log: RequestLog, ended_at_s: float) -> str | None:
    """Requests that stop before the end mean the connections died or hung: h2load never
    reconnects HTTP/2, and a hung connection is counted nowhere."""
    assert log.first_start_us is not None and log.last_answered_start_us is not None
    # Both bounds are at or after the real end; the smaller one is the closer.
    end_us = min(log.first_start_us + request.duration_s * 1e6, ended_at_s * 1e6)
    tolerance_s = min(STALE_TOLERANCE_S, request.duration_s / 4)
    # A saturated server leaves a gap as long as its slowest answers: the requests started in
    # that last stretch are still in flight when the run ends (and are not logged). Dead
    # connections leave a gap far longer than any answer took.
    if log.durations_us:
        tolerance_s += log.durations_us[-1] / 1e6
    if request.target_requests_per_s is not None:
        tolerance_s += 2 / request.target_requests_per_s  # the gap between two paced requests
    gap_s = (end_us - log.last_answered_start_us) / 1e6
    if gap_s <= tolerance_s:
        return None
    slowest_s = log.durations_us[-1] / 1e6 if log.durations_us else 0.0
    if slowest_s > request.duration_s / 2:
        return (
            f"{TOO_SHORT}: answers took up to {slowest_s:.2f} s, so most requests of the"
            f" {request.duration_s:g} s run were still in flight at its end"
        )
    why = " (h2load never reconnects HTTP/2)" if request.protocol != "http/1.1" else ""
    return (
        f"the last answered request started {gap_s:.2f} s before the end of the"
        f" {request.duration_s:g} s main duration: the server closed or stopped answering the"
        f" connections{why}"
    )


def fixed_rate_reason(request: H2loadRequest, summary: Summary) -> str | None:
    target, achieved = request.target_requests_per_s, summary.requests_per_s
    if target is None or achieved is None:
        return None
    # A client paced at r per second fits only whole requests into the run: 3/s over 1.5 s is
    # 4 requests, not 4.5. Judge against what the pacing can send, not the nominal rate.
    if request.requests is None and request.rps_per_client:
        whole = math.floor(request.duration_s * request.rps_per_client + 1e-9)
        target = min(target, request.clients * whole / request.duration_s)
    if achieved >= FIXED_RATE_MIN_FRACTION * target:
        return None
    return f"not a fixed-rate figure: the server kept up with only {achieved:g} of {target:g} req/s"
