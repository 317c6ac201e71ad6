"""Figures of a live-load run around its event, from openload's per-request records: the
failures by kind, the p99 before, around and after the event, and when every request was
answered on time again. Times are milliseconds from the start of the measured window, as in
the records (``harness.benchmarks.openload.records``)."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from harness.benchmarks.openload.records import RequestRecord

# How each failed outcome is named in the evidence; an error status is "HTTP <code>".
FAILURE_NAMES = {
    "errored": "connection lost (reset or closed by the server)",
    "timed_out": "timed out",
    "unanswered": "unanswered when the run ended",
}


def failure_name(record: RequestRecord) -> str:
    return FAILURE_NAMES.get(record.outcome, f"HTTP {record.outcome}")


def failures_by_kind(records: list[RequestRecord]) -> dict[str, int]:
    counts = Counter(failure_name(record) for record in records if not record.answered)
    return dict(sorted(counts.items()))


def lost_with_the_worker(record: RequestRecord, event_ms: float, ports: list[int]) -> bool:
    """A failed request that no server could have answered once the event ended a worker: one
    sent on a connection that worker held (``ports``, the clients' ports of its connections
    just before; its sockets close with it, so the client learns of it on its next request),
    or, where the worker held no client connection (a front process such as uWSGI's router
    relays to it), one in flight at the event (sent before, ended after)."""
    if record.answered:
        return False
    if ports:
        return record.port in ports
    return (
        record.sent_ms is not None
        and record.sent_ms < event_ms
        and (record.done_ms is None or record.done_ms >= event_ms)
    )


def p99_ms(latencies: list[float]) -> float | None:
    """Nearest-rank p99 of answered requests; None when none was answered."""
    if not latencies:
        return None
    ordered = sorted(latencies)
    return round(ordered[max(1, math.ceil(0.99 * len(ordered))) - 1], 3)


def window(records: list[RequestRecord], name: str, start_ms: float, end_ms: float) -> dict:
    """The requests due in [start_ms, end_ms): how many, answered, failed, and their p99."""
    due = [record for record in records if start_ms <= record.due_ms < end_ms]
    latencies = [record.latency_ms for record in due if record.latency_ms is not None]
    return {
        "name": name,
        "from_s": round(start_ms / 1000, 3),
        "to_s": round(end_ms / 1000, 3),
        "due": len(due),
        "answered": len(latencies),
        "failed": len(due) - len(latencies),
        "p99_ms": p99_ms(latencies),
    }


def windows(
    records: list[RequestRecord], event_ms: float, around_ms: float, end_ms: float
) -> list[dict[str, Any]]:
    """Before the event, the ``around_ms`` after it, and the rest of the window."""
    return [
        window(records, "before", 0.0, event_ms),
        window(records, "around", event_ms, event_ms + around_ms),
        window(records, "after", event_ms + around_ms, end_ms),
    ]


def late_or_failed(record: RequestRecord, bound_ms: float) -> bool:
    latency = record.latency_ms
    return latency is None or latency > bound_ms


# Seconds of requests (by due time) judged together, and the share of one that may be late
# (never fewer than one request) while the rate still counts as answered on time: a machine
# shared with other work delays a request now and then, which is not the event's doing.
BIN_MS = 1000.0
LATE_SHARE = 0.01


def _bin_is_late(records: list[RequestRecord], bound_ms: float) -> bool:
    """Whether a second of requests was not answered on time: any failed, or more late than
    LATE_SHARE of them (at least one allowed)."""
    if any(record.latency_ms is None for record in records):
        return True
    late = sum(1 for record in records if late_or_failed(record, bound_ms))
    return late > max(1, math.ceil(LATE_SHARE * len(records)))


def back_to_normal_s(
    records: list[RequestRecord],
    event_ms: float,
    bound_ms: float,
    interval_ms: float,
    end_ms: float,
    tail_ms: float,
) -> float | None:
    """Seconds from the event until the full rate was answered on time again: from then on,
    every second of requests (by due time, from the event, and the requests before it still
    unfinished at it) had no failure and no more late ones (beyond ``bound_ms`` from due) than
    LATE_SHARE allows; measured to just after the last late or failed request of the last
    second that had too many. 0 when no second had; None when that second ends within
    ``tail_ms`` of the window's end (not back while the run lasted)."""
    ended_after = [
        record for record in records if record.done_ms is None or record.done_ms >= event_ms
    ]
    bins: dict[int, list[RequestRecord]] = {}
    for record in ended_after:
        bins.setdefault(math.floor((record.due_ms - event_ms) / BIN_MS), []).append(record)
    late_bins = [index for index, found in bins.items() if _bin_is_late(found, bound_ms)]
    if not late_bins:
        return 0.0
    last_bin = max(late_bins)
    if event_ms + (last_bin + 1) * BIN_MS > end_ms - tail_ms:
        return None
    last = max(r.due_ms for r in bins[last_bin] if late_or_failed(r, bound_ms))
    return round(max(0.0, last + interval_ms - event_ms) / 1000, 3)
