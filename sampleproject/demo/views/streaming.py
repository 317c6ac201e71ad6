"""Plain-text streaming responses fed by a sync generator or by an async generator.

Each chunk is a line ``chunk <n> at <time.monotonic()>``, stamped when the generator produces
it: a client (or a test in the same process) can tell whether chunks were produced as they
were sent or all at once and buffered.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from demo.query import BadQuery, bad_request, bounded_float, bounded_int

MAX_CHUNKS = 1000
MAX_DELAY_SECONDS = 10.0
PLAIN_TEXT = "text/plain; charset=utf-8"


def chunk_line(number: int) -> str:
    """One chunk of the stream, stamped now."""
    return f"chunk {number} at {time.monotonic():.6f}\n"


def sync_chunks(count: int, delay: float) -> Iterator[str]:
    """``count`` chunks, ``delay`` seconds apart, blocking between them."""
    for number in range(1, count + 1):
        if number > 1:
            time.sleep(delay)
        yield chunk_line(number)


async def async_chunks(count: int, delay: float) -> AsyncIterator[str]:
    """``count`` chunks, ``delay`` seconds apart, awaiting between them."""
    for number in range(1, count + 1):
        if number > 1:
            await asyncio.sleep(delay)
        yield chunk_line(number)


def stream_parameters(request: HttpRequest) -> tuple[int, float]:
    """``?chunks=`` (1..1000, default 5) and ``?delay=`` seconds (0..10, default 0.5)."""
    count = bounded_int(request, "chunks", default=5, low=1, high=MAX_CHUNKS)
    delay = bounded_float(request, "delay", default=0.5, low=0.0, high=MAX_DELAY_SECONDS)
    return count, delay


def stream_sync(request: HttpRequest) -> HttpResponse:
    """A stream from a sync generator: what WSGI servers serve natively."""
    try:
        count, delay = stream_parameters(request)
    except BadQuery as error:
        return bad_request(error)
    return StreamingHttpResponse(sync_chunks(count, delay), content_type=PLAIN_TEXT)


async def stream_async(request: HttpRequest) -> HttpResponse:
    """A stream from an async generator: what ASGI servers serve natively."""
    try:
        count, delay = stream_parameters(request)
    except BadQuery as error:
        return bad_request(error)
    return StreamingHttpResponse(async_chunks(count, delay), content_type=PLAIN_TEXT)
