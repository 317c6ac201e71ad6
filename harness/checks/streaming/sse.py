"""The sse check: does an SSE client (httpx-sse) receive the events of an endless stream as they
are produced, as text/event-stream? A buffered endless stream sends nothing, ever."""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from typing import Any

import httpx
import psutil
from httpx_sse import EventSource, SSEError, aconnect_sse

from harness.checks import Check, CheckContext, Finding
from harness.checks.streaming._shared import (
    DATA_CHARS,
    GROUP,
    IDIOM_RULE,
    MAX_KEPT_EVENTS,
    idiom_sentence,
    problem,
    response_facts,
)
from harness.endpoints import sse_idiom
from harness.launcher import Instance
from harness.process import StartError

SSE_CONTENT_TYPE = "text/event-stream"

# A real event stream is endless: the client watches one for a while and judges what it saw.
# A server (or Django's WSGI handler) that buffers a response sends nothing of an endless one,
# ever, while the worker serving it stays busy.
ENDLESS_INTERVAL_S = 0.5
WATCH_S = 6.0
FIRST_EVENT_WITHIN_S = 2.0
LIVE_SHARE = 0.5  # of the events the view produced while watched, at least this many arrived
ANSWER_PROBE_S = 3.0  # after the client leaves: does the instance still answer a request?

SSE_THRESHOLDS = (
    f"An endless stream (an event every {ENDLESS_INTERVAL_S:g} s) on an instance of its own, "
    f"read with httpx-sse for {WATCH_S:g} s; meanwhile the server's memory (RSS of its process "
    f"tree) is sampled, and after the client leaves the instance is asked for /json/sync "
    f"(within {ANSWER_PROBE_S:g} s) to show whether the stream still holds its worker. "
    f"{IDIOM_RULE} Outcome: yes = the first event within {FIRST_EVENT_WITHIN_S:g} s, at least "
    f"{LIVE_SHARE:.0%} of the events produced while watched, as {SSE_CONTENT_TYPE}; partial = "
    "events arrive but late, in bursts, or with another Content-Type (which httpx-sse refuses; "
    "the check then reads the stream anyway to time it); no = an error status, or no event at "
    f"all within {WATCH_S:g} s (the stream is buffered: a browser would receive nothing, ever)."
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
    """The outcome of watching an endless stream for ``WATCH_S`` seconds."""
    events = record["events"]
    held = _held_phrase(record)
    waited_in_vain = record["status"] is None and record["limit_reached"] and not record["error"]
    if record["status"] != 200 and not waited_in_vain:
        reason = record["error"] or f"HTTP {record['status']}"
        return "no", f"No events: {reason}."
    if not events:
        got = "not even the response headers" if waited_in_vain else "headers, then no event"
        return "no", (
            f"Buffered: no event arrived in {WATCH_S:g} s of an endless stream ({got}); the "
            f"response is held until it ends, which an event stream never does, so a browser "
            f"receives nothing, ever{held}."
        )
    first = events[0]["at_s"]
    produced = max(1, int((WATCH_S - first) / ENDLESS_INTERVAL_S))
    timing = (
        f"first event after {first:.2f} s, {record['events_received']} in {WATCH_S:g} s "
        f"(one produced every {ENDLESS_INTERVAL_S:g} s)"
    )
    if first > FIRST_EVENT_WITHIN_S:
        return "partial", f"Late: {timing}{held}."
    if record["events_received"] < LIVE_SHARE * produced:
        return "partial", f"In bursts: {timing}{held}."
    if not _is_event_stream(record["content_type"]):
        served_as = f"served as {record['content_type'] or 'no Content-Type'}"
        refused = ""
        if record["client_refused"]:
            refused = " (httpx-sse refuses such a stream; read anyway)"
        return "partial", f"Live: {timing}, but {served_as}{refused}."
    return "yes", f"Live: {timing}, as {SSE_CONTENT_TYPE}."


def _held_phrase(record: dict[str, Any]) -> str:
    after = record.get("after_client_left") or {}
    grew = record.get("rss_growth_bytes")
    parts = []
    if after.get("answered") is False:
        parts.append(f"the instance did not answer another request within {ANSWER_PROBE_S:g} s")
    if isinstance(grew, int) and grew > 0:
        parts.append(f"its memory grew by {grew / 2**20:.1f} MiB while watched")
    return f" ({'; '.join(parts)})" if parts else ""


def _tree_rss(pid: int) -> int | None:
    try:
        root = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
    except psutil.Error:
        return None


def _answers(url: str) -> dict[str, Any]:
    began = time.monotonic()
    try:
        response = httpx.get(url, timeout=ANSWER_PROBE_S)
    except httpx.HTTPError as error:
        return {"answered": False, "error": problem(error)}
    return {"answered": True, "status": response.status_code, "after_s": time.monotonic() - began}


def _watch(instance: Instance, url: str) -> dict[str, Any]:
    rss_before = _tree_rss(instance.process.pid)
    record = asyncio.run(read_events(url, WATCH_S))
    rss_after = _tree_rss(instance.process.pid)
    record.update(
        watched_s=WATCH_S,
        rss_before_bytes=rss_before,
        rss_after_bytes=rss_after,
        rss_growth_bytes=(
            rss_after - rss_before if rss_before is not None and rss_after is not None else None
        ),
    )
    return record


def _run_sse(context: CheckContext) -> Finding:
    if context.launcher is None:
        return Finding("error", "No launcher to start an instance of its own for this check.")
    stream = f"sse-{uuid.uuid4().hex[:12]}"
    query = f"count=0&interval={ENDLESS_INTERVAL_S:g}&id={stream}"
    idiom = sse_idiom(context.server.interface)
    path = context.endpoints[idiom.endpoint]
    try:
        with context.launcher.launch("http") as instance:
            record = _watch(instance, instance.url(path, query))
            record["after_client_left"] = _answers(instance.url(context.endpoints["json_sync"]))
    except StartError as error:
        return Finding(
            "error",
            f"The instance for this check did not start: {error.reason}"[:500],
            {"log_tail": error.log_tail},
        )
    outcome, summary = judge_sse(record)
    evidence = {
        "instance": instance.describe(),
        "path": path,
        "query": query,
        "idiom": idiom.as_record(),
        **record,
    }
    return Finding(
        outcome,
        f"{summary} {idiom_sentence(idiom, path, context.capacity(), context.capacity_text())}",
        evidence,
    )


CHECK = Check(
    timed=True,
    id="sse",
    title="Server-sent events",
    group=GROUP,
    question=(
        "Does an SSE client (httpx-sse) receive the events of an endless stream, made in the "
        "interface's idiom (a sync generator under WSGI, an async one under ASGI), as they are "
        "produced, served as text/event-stream?"
    ),
    thresholds=SSE_THRESHOLDS,
    run=_run_sse,
)
