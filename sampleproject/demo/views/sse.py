"""Server-sent events from an async generator, and a page that listens to them.

The stream records its lifecycle (demo/sse_log.py) so the harness can see, per server, whether
Django learns that the client disconnected and stops producing events.
"""

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from demo.query import BadQuery, bad_request, bounded_float, bounded_int
from demo.sse_log import record_event

MAX_COUNT = 100_000
MAX_INTERVAL_SECONDS = 60.0
STREAM_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def sse_frame(event_id: int, data: dict) -> str:
    """One event in the text/event-stream framing; JSON keeps ``data`` on one line."""
    return f"id: {event_id}\ndata: {json.dumps(data)}\n\n"


async def sse_events(stream: str, count: int, interval: float) -> AsyncIterator[str]:
    """``count`` events (0: endless), ``interval`` seconds apart, with lifecycle records."""
    sent = 0
    record_event(stream, "started", sent)
    try:
        while count == 0 or sent < count:
            if sent:
                await asyncio.sleep(interval)
            sent += 1
            data = {"n": sent, "count": count, "stream": stream, "at": time.time()}
            yield sse_frame(sent, data)
    # A server cancels the task (CancelledError at the sleep) or closes the iterator
    # (GeneratorExit at the yield); both mean the client is gone, and both must propagate.
    except (asyncio.CancelledError, GeneratorExit):
        record_event(stream, "cancelled", sent)
        raise
    record_event(stream, "finished", sent)


def stream_id(request: HttpRequest) -> str:
    """``?id=`` (letters, digits, ``._:-``, at most 64), or a fresh hex id when absent."""
    raw = request.GET.get("id", "")
    if raw == "":
        return uuid.uuid4().hex
    if not STREAM_ID.fullmatch(raw):
        raise BadQuery(f"id must match {STREAM_ID.pattern}, got {raw!r}")
    return raw


async def sse(request: HttpRequest) -> HttpResponse:
    """``?count=`` events (0..100000, 0 endless, default 5) every ``?interval=`` s (0..60)."""
    try:
        count = bounded_int(request, "count", default=5, low=0, high=MAX_COUNT)
        interval = bounded_float(
            request, "interval", default=0.5, low=0.0, high=MAX_INTERVAL_SECONDS
        )
        stream = stream_id(request)
    except BadQuery as error:
        return bad_request(error)
    response = StreamingHttpResponse(
        sse_events(stream, count, interval), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    # Tells nginx-style proxies not to buffer the stream.
    response["X-Accel-Buffering"] = "no"
    return response


def sse_page(request: HttpRequest) -> HttpResponse:
    """A page whose EventSource shows the events of /sse; its query string is passed on."""
    return render(request, "demo/sse_page.html")
