"""Server-sent events, and a page that listens to them.

The same events come from an async generator (/sse, the ASGI idiom: the stream waits on the
event loop) or a sync generator (/sse/sync, the WSGI idiom: the stream holds a worker thread
for as long as its client listens). Django buffers each idiom whole under the other interface,
so an endless stream of the wrong idiom sends nothing, ever.

Both streams record their lifecycle (demo/sse_log.py) so the harness can see, per server,
whether Django learns that the client disconnected and stops producing events.
"""

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

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


def event_frame(stream: str, count: int, sent: int) -> str:
    """Event number ``sent`` of ``stream``, stamped with the wall-clock time it was made."""
    return sse_frame(sent, {"n": sent, "count": count, "stream": stream, "at": time.time()})


async def sse_events(stream: str, count: int, interval: float) -> AsyncIterator[str]:
    """``count`` events (0: endless), ``interval`` seconds apart, with lifecycle records."""
    sent = 0
    record_event(stream, "started", sent)
    try:
        while count == 0 or sent < count:
            if sent:
                await asyncio.sleep(interval)
            sent += 1
            yield event_frame(stream, count, sent)
    # A server cancels the task (CancelledError at the sleep) or closes the iterator
    # (GeneratorExit at the yield); both mean the client is gone, and both must propagate.
    except (asyncio.CancelledError, GeneratorExit):
        record_event(stream, "cancelled", sent)
        raise
    record_event(stream, "finished", sent)


def sse_events_sync(stream: str, count: int, interval: float) -> Iterator[str]:
    """The same events from a sync generator, blocking its thread between them."""
    sent = 0
    record_event(stream, "started", sent)
    try:
        while count == 0 or sent < count:
            if sent:
                time.sleep(interval)
            sent += 1
            yield event_frame(stream, count, sent)
    # A WSGI server closes the response when a write to the client fails, and Django closes
    # the generator with it (GeneratorExit at the yield): the client is gone.
    except GeneratorExit:
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


def event_stream_response(
    request: HttpRequest, events: Callable[[str, int, float], AsyncIterator[str] | Iterator[str]]
) -> HttpResponse:
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
        events(stream, count, interval), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    # Tells nginx-style proxies not to buffer the stream.
    response["X-Accel-Buffering"] = "no"
    return response


async def sse(request: HttpRequest) -> HttpResponse:
    """The events from an async generator: the ASGI idiom."""
    return event_stream_response(request, sse_events)


def sse_sync(request: HttpRequest) -> HttpResponse:
    """The events from a sync generator: the WSGI idiom, a worker thread held per client."""
    return event_stream_response(request, sse_events_sync)


# The stream each idiom of the page's ``?idiom=`` reads.
PAGE_SOURCES = {"async": "demo:sse", "sync": "demo:sse_sync"}


def sse_page(request: HttpRequest) -> HttpResponse:
    """A page whose EventSource shows the events of /sse, or of /sse/sync with ``?idiom=sync``;
    its count, interval and id are passed on."""
    idiom = request.GET.get("idiom", "async")
    if idiom not in PAGE_SOURCES:
        return bad_request(BadQuery(f"idiom must be one of {sorted(PAGE_SOURCES)}, got {idiom!r}"))
    return render(request, "demo/sse_page.html", {"source": PAGE_SOURCES[idiom]})
