"""Work a client abandons: the views the client-disconnect check leaves in the middle of.

Each does ``?steps=`` units of work ``?interval=`` seconds apart and records its lifecycle under
``?id=`` (demo/disconnect_log.py): when it started, each step, whether it completed or was
cancelled, whether its ``finally`` ran, and whether Django's ``request_finished`` fired. A
server can stop abandoned work only where it has a way in: under ASGI it tells Django the
client left (``http.disconnect``), and Django cancels an async view or stream; under WSGI a
failed write lets it close a stream's iterator. A sync view holds its thread to the end either
way, and so does a database query, which Django never cancels.

* /disconnect/sync and /disconnect/async: a sync view that sleeps in its thread, an async one
  that awaits.
* /disconnect/query and /disconnect/query/async: one slow SQL query whose every row costs
  ``interval`` seconds inside SQLite (a recursive CTE of ``steps`` rows through the
  ``demo_work_step`` function, registered on each SQLite connection, which sleeps and records
  the row), run by a sync view, or by an async view through ``sync_to_async`` as Django's
  async ORM runs its queries. SQLite only: PostgreSQL would need ``pg_sleep`` and could not
  record rows as they are made.
* /disconnect/stream/sync and /disconnect/stream/async: a stream that sends a line at once and
  then one per step, from a sync generator (the WSGI idiom) or an async one (the ASGI idiom).
"""

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

from demo.disconnect_log import record
from demo.query import BadQuery, bad_request, bounded_float, bounded_int

MAX_STEPS = 600
MAX_INTERVAL_SECONDS = 1.0
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
PLAIN_TEXT = "text/plain; charset=utf-8"
SLOW_QUERY = (
    "WITH RECURSIVE steps(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM steps WHERE n < %s) "
    "SELECT count(demo_work_step(%s, %s, n)) FROM steps"
)


def work_parameters(request: HttpRequest) -> tuple[str, int, float]:
    """``?id=`` (letters, digits, ``._:-``, at most 64; a fresh hex id when absent),
    ``?steps=`` (1..600, default 20) and ``?interval=`` seconds (0..1, default 0.1)."""
    request_id = request.GET.get("id", "") or uuid.uuid4().hex
    if not REQUEST_ID.fullmatch(request_id):
        raise BadQuery(f"id must match {REQUEST_ID.pattern}, got {request_id!r}")
    steps = bounded_int(request, "steps", default=20, low=1, high=MAX_STEPS)
    interval = bounded_float(request, "interval", default=0.1, low=0.0, high=MAX_INTERVAL_SECONDS)
    return request_id, steps, interval


def work_done(request_id: str, steps: int) -> JsonResponse:
    return JsonResponse({"id": request_id, "steps": steps, "completed": True})


def disconnect_sync(request: HttpRequest) -> HttpResponse:
    """Sleeps step by step in its thread: nothing can stop it before its end."""
    try:
        request_id, steps, interval = work_parameters(request)
    except BadQuery as error:
        return bad_request(error)
    record(request_id, "started")
    try:
        for number in range(1, steps + 1):
            time.sleep(interval)
            record(request_id, "step", n=number)
        record(request_id, "completed")
    finally:
        record(request_id, "finally")
    return work_done(request_id, steps)


async def disconnect_async(request: HttpRequest) -> HttpResponse:
    """Awaits step by step: under ASGI, Django cancels it when the server says the client
    left (CancelledError at the await); under WSGI it runs to its end."""
    try:
        request_id, steps, interval = work_parameters(request)
    except BadQuery as error:
        return bad_request(error)
    record(request_id, "started")
    try:
        for number in range(1, steps + 1):
            await asyncio.sleep(interval)
            record(request_id, "step", n=number)
        record(request_id, "completed")
    except asyncio.CancelledError:
        record(request_id, "cancelled", how="CancelledError")
        raise
    finally:
        record(request_id, "finally")
    return work_done(request_id, steps)


def work_step(request_id: str, interval: float, number: int) -> int:
    """One row of the slow query, evaluated by SQLite inside the query (demo_work_step)."""
    time.sleep(interval)
    record(request_id, "step", n=number)
    return 1


def register_work_step(sender: object, connection: object, **kwargs: object) -> None:
    """connection_created receiver: give every new SQLite connection the row function."""
    if connection.vendor == "sqlite":  # type: ignore[attr-defined]
        connection.connection.create_function("demo_work_step", 3, work_step)  # type: ignore[attr-defined]


def run_slow_query(request_id: str, steps: int, interval: float) -> int:
    """The slow query, to its end: ``steps`` rows, each ``interval`` seconds inside SQLite."""
    with connection.cursor() as cursor:
        cursor.execute(SLOW_QUERY, [steps, request_id, interval])
        (rows,) = cursor.fetchone()
    record(request_id, "completed", rows=rows)
    return rows


def needs_sqlite() -> JsonResponse | None:
    """None on SQLite (the vendor is a class attribute: reading it opens no connection)."""
    if connection.vendor == "sqlite":
        return None
    return JsonResponse(
        {"error": f"/disconnect/query needs SQLite; the database is {connection.vendor}"},
        status=501,
    )


def disconnect_query(request: HttpRequest) -> HttpResponse:
    """The slow query from a sync view."""
    try:
        request_id, steps, interval = work_parameters(request)
    except BadQuery as error:
        return bad_request(error)
    if refused := needs_sqlite():
        return refused
    record(request_id, "started")
    try:
        run_slow_query(request_id, steps, interval)
    finally:
        record(request_id, "finally")
    return work_done(request_id, steps)


async def disconnect_query_async(request: HttpRequest) -> HttpResponse:
    """The slow query from an async view, in Django's sync thread as the async ORM runs it:
    a cancellation stops the view at its await, not the query in the thread."""
    try:
        request_id, steps, interval = work_parameters(request)
    except BadQuery as error:
        return bad_request(error)
    if refused := needs_sqlite():
        return refused
    record(request_id, "started")
    try:
        await sync_to_async(run_slow_query)(request_id, steps, interval)
    except asyncio.CancelledError:
        record(request_id, "cancelled", how="CancelledError")
        raise
    finally:
        record(request_id, "finally")
    return work_done(request_id, steps)


def sync_lines(request_id: str, steps: int, interval: float) -> Iterator[str]:
    """A line at once, then one per step; the server closing the iterator ends it early."""
    record(request_id, "started")
    try:
        yield "started\n"
        for number in range(1, steps + 1):
            time.sleep(interval)
            record(request_id, "step", n=number)
            yield f"step {number}\n"
        record(request_id, "completed")
    # A WSGI server closes the response when a write to the client fails, and Django closes
    # the generator with it (GeneratorExit at the yield); it must propagate.
    except GeneratorExit:
        record(request_id, "cancelled", how="GeneratorExit")
        raise
    finally:
        record(request_id, "finally")


async def async_lines(request_id: str, steps: int, interval: float) -> AsyncIterator[str]:
    """The same lines from an async generator."""
    record(request_id, "started")
    try:
        yield "started\n"
        for number in range(1, steps + 1):
            await asyncio.sleep(interval)
            record(request_id, "step", n=number)
            yield f"step {number}\n"
        record(request_id, "completed")
    # Django cancels the task (CancelledError at the sleep) or closes the iterator
    # (GeneratorExit at the yield) when the client has gone; both must propagate.
    except (asyncio.CancelledError, GeneratorExit) as stop:
        record(request_id, "cancelled", how=type(stop).__name__)
        raise
    finally:
        record(request_id, "finally")


def stream_response(
    request: HttpRequest, lines: Callable[[str, int, float], Iterator[str] | AsyncIterator[str]]
) -> HttpResponse:
    try:
        request_id, steps, interval = work_parameters(request)
    except BadQuery as error:
        return bad_request(error)
    response = StreamingHttpResponse(lines(request_id, steps, interval), content_type=PLAIN_TEXT)
    response["X-Accel-Buffering"] = "no"
    return response


def disconnect_stream_sync(request: HttpRequest) -> HttpResponse:
    """The stream from a sync generator: the WSGI idiom."""
    return stream_response(request, sync_lines)


async def disconnect_stream_async(request: HttpRequest) -> HttpResponse:
    """The stream from an async generator: the ASGI idiom."""
    return stream_response(request, async_lines)
