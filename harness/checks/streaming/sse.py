"""The sse check: does an SSE client (httpx-sse) receive the events live, as text/event-stream?"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError, aconnect_sse

from harness.checks import Check, CheckContext, Finding
from harness.checks.streaming._shared import (
    DATA_CHARS,
    GROUP,
    MAX_KEPT_EVENTS,
    problem,
    response_facts,
)
from harness.checks.streaming.timing import (
    SSE_EVENTS,
    SSE_INTERVAL_S,
    SSE_SPAN_S,
    STREAM_TIMEOUT_S,
    classify_arrivals,
    timing_phrase,
    timing_rule,
)

SSE_CONTENT_TYPE = "text/event-stream"

SSE_THRESHOLDS = (
    f"{SSE_EVENTS} events, {SSE_INTERVAL_S:g} s apart, read with httpx-sse. "
    + timing_rule("event", SSE_SPAN_S)
    + f" Outcome: yes = all events live with Content-Type {SSE_CONTENT_TYPE}; partial = all "
    "events but buffered or irregular, or live with another Content-Type (which httpx-sse "
    "refuses; the check then reads the stream anyway to time it); no = missing events, an "
    f"error status, neither live nor {SSE_CONTENT_TYPE}, or not complete within "
    f"{STREAM_TIMEOUT_S:g} s."
)


class _ContentTypeBlindEventSource(EventSource):
    """httpx-sse's parser without its Content-Type check: used only after the real client
    refused a stream, to time the events a lenient client would still have seen."""

    def _check_content_type(self) -> None:
        return None


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _event_record(event: Any, origin: float, origin_wall: float) -> dict[str, Any]:
    try:
        data = json.loads(event.data)
    except ValueError:
        data = None
    sent_at = data.get("at") if isinstance(data, dict) else None
    return {
        "at_s": time.monotonic() - origin,
        "id": event.id,
        "event": event.event,
        "data": event.data[:DATA_CHARS],
        "n": data.get("n") if isinstance(data, dict) else None,
        # Same machine, same wall clock: when the view produced the event.
        "sent_s": sent_at - origin_wall if _is_finite_number(sent_at) else None,
    }


async def _collect_events(
    source: EventSource, record: dict[str, Any], origin: float, origin_wall: float
) -> None:
    events = record["events"]

    async def keep(iterator: Any) -> None:
        async for event in iterator:
            if len(events) < MAX_KEPT_EVENTS:
                events.append(_event_record(event, origin, origin_wall))
            record["events_received"] += 1

    try:
        await keep(source.aiter_sse())
    except SSEError as refusal:
        record["client_refused"] = str(refusal)[:300]
        await keep(_ContentTypeBlindEventSource(source.response).aiter_sse())


async def read_events(url: str, limit_s: float) -> dict[str, Any]:
    """Read server-sent events from ``url`` with httpx-sse for at most ``limit_s`` seconds,
    then close the connection. ``left_at`` is the wall-clock time the client gave up (the
    limit) and ``closed_at`` when its connection was closed."""
    record: dict[str, Any] = {
        "status": None,
        "events": [],
        "events_received": 0,
        "client_refused": None,
        "ended_by_server": False,
        "limit_reached": False,
        "error": None,
    }
    origin, origin_wall = time.monotonic(), time.time()
    record["left_at"] = origin_wall + limit_s
    client = httpx.AsyncClient(timeout=limit_s + 5)
    try:
        async with asyncio.timeout(limit_s), aconnect_sse(client, "GET", url) as source:
            record.update(response_facts(source.response, origin))
            if source.response.status_code == 200:
                await _collect_events(source, record, origin, origin_wall)
                record["ended_by_server"] = True
    except TimeoutError:
        record["limit_reached"] = True
    except httpx.HTTPError as error:
        record["error"] = problem(error)
    finally:
        await client.aclose()
    record["closed_at"] = time.time()
    record["closed_s"] = time.monotonic() - origin
    return record


def _is_event_stream(content_type: str | None) -> bool:
    return (content_type or "").partition(";")[0].strip().lower() == SSE_CONTENT_TYPE


def judge_sse(record: dict[str, Any]) -> tuple[str, str]:
    events = record["events"]
    if record["status"] != 200:
        reason = record["error"] or f"HTTP {record['status']}"
        return "no", f"No events: {reason}."
    if len(events) < SSE_EVENTS:
        reason = (
            f"not complete within {STREAM_TIMEOUT_S:g} s"
            if record["limit_reached"]
            else record["error"] or "the stream ended"
        )
        return "no", f"Incomplete: {len(events)} of {SSE_EVENTS} events arrived ({reason})."
    arrivals = [event["at_s"] for event in events]
    kind = classify_arrivals(arrivals, SSE_SPAN_S)
    record["classification"] = kind
    timing = timing_phrase(kind, len(events), "event", arrivals, SSE_INTERVAL_S)
    if _is_event_stream(record["content_type"]):
        return ("yes" if kind == "live" else "partial"), f"{timing}, as {SSE_CONTENT_TYPE}."
    served_as = f"served as {record['content_type'] or 'no Content-Type'}"
    refused = " (httpx-sse refuses such a stream; read anyway)" if record["client_refused"] else ""
    return ("partial" if kind == "live" else "no"), f"{timing}, but {served_as}{refused}."


def _run_sse(context: CheckContext) -> Finding:
    stream = f"sse-{uuid.uuid4().hex[:12]}"
    query = f"count={SSE_EVENTS}&interval={SSE_INTERVAL_S:g}&id={stream}"
    record = asyncio.run(read_events(context.url("sse", query), STREAM_TIMEOUT_S))
    outcome, summary = judge_sse(record)
    evidence = {
        "instance": context.shared.describe(),
        "path": context.endpoints["sse"],
        "query": query,
        **record,
    }
    return Finding(outcome, summary, evidence)


CHECK = Check(
    timed=True,
    id="sse",
    title="Server-sent events",
    group=GROUP,
    question=(
        "Does an SSE client (httpx-sse) receive the events of an async stream live, "
        "served as text/event-stream?"
    ),
    thresholds=SSE_THRESHOLDS,
    run=_run_sse,
)
