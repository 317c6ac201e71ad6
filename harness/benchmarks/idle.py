"""Hold many idle connections (SSE streams or WebSockets) open to a server; count what it kept,
when it dropped the others, and whether a fresh client is still served while they are held.

One client process holds every connection, so the count is bounded by this process's open
files: 20000 here, and even root cannot raise it (RESEARCH.md section 7); the caller raises
the soft limit to what the bound needs first (``open_files``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import resource
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import ClientConnection, connect

KINDS = ("sse", "websocket")
MAX_CONNECTIONS = 15_000
FD_HEADROOM = 1_000  # files this process needs besides the held sockets (venv, logs, pipes)
SSE_QUERY = "count=0&interval=60"  # an endless stream, one event a minute: idle, not silent
HEADER_LIMIT = 64 * 1024
OPEN_CHECK_S = 1.0  # an SSE stream silent this long after the hold is still open
ECHO_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 2.0
FRESH_TIMEOUT_S = 5.0  # a fresh request at the peak not answered within this is not served
# How the open phase ended: every open settled; no open settled for ``stall_s`` while some
# were still under way (the server stopped taking connections: its limit); or the deadline.
OPEN_ENDINGS = ("settled", "stalled", "deadline")


@dataclass
class HoldResult:
    kind: str  # "sse" | "websocket"
    requested: int
    opened: int  # 200 + first event (SSE), or handshake + one echo (WebSocket)
    still_open: int  # of those, still open after the hold
    # error kind -> count; opened + sum(errors) == requested. "timeout" includes the opens
    # that had not even started when the deadline came, or when the server stalled.
    errors: dict[str, int] = field(default_factory=dict)
    open_seconds: float = 0.0  # the open phase: until every open ended, a stall or the deadline
    open_ended: str = "settled"  # one of OPEN_ENDINGS
    # Seconds into the hold at which the server closed each connection it dropped.
    dropped_at_s: list[float] = field(default_factory=list)
    # The fresh request made while the connections were held: status and time, or the error.
    fresh: dict[str, Any] | None = None
    open_at_peak: int = 0  # connections open when the fresh request and while_held came

    def as_metrics(self) -> dict[str, int | float]:
        metrics: dict[str, int | float] = {
            "connections_requested": self.requested,
            "connections_opened": self.opened,
            "connections_still_open": self.still_open,
            "connections_dropped": len(self.dropped_at_s),
            "connections_open_at_peak": self.open_at_peak,
            "connection_errors": sum(self.errors.values()),
            "open_phase_s": round(self.open_seconds, 3),
        }
        if self.open_seconds > 0:
            metrics["opened_per_s"] = round(self.opened / self.open_seconds, 1)
        # How the opening ended, as a figure: the count at which the server stopped taking
        # connections (its limit), or the opens still under way when the deadline came (it
        # was still opening: no limit found, the count is its opening rate's).
        if self.open_ended == "stalled":
            metrics["connection_limit"] = self.opened
        elif self.open_ended == "deadline":
            metrics["opens_pending_at_deadline"] = self.errors.get("timeout", 0)
        if self.fresh is not None:
            answered = self.fresh.get("status") == 200
            metrics["fresh_requests_answered"] = int(answered)
            if answered:
                metrics["fresh_request_ms"] = self.fresh["elapsed_ms"]
        return metrics

    def details(self) -> dict[str, Any]:
        """What the metrics leave out: how the open phase ended, when each drop came, and the
        fresh request's answer."""
        return {
            "open_ended": self.open_ended,
            "dropped_at_s": [round(at, 3) for at in self.dropped_at_s],
            "fresh_request": self.fresh,
        }


class OpenFailed(Exception):
    """One connection did not open; ``kind`` is the key it is counted under in ``errors``."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass
class SSEStream:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    dropped_at_s: float | None = None

    async def watch(self, began: float) -> None:
        """Read (an event a minute) until the server closes the stream; note when."""
        try:
            while await self.reader.read(65536):
                pass
        except OSError:
            pass
        self.dropped_at_s = time.monotonic() - began

    async def still_open(self) -> bool:
        # The server sends an event a minute, so data or silence both mean open; only an
        # end of stream (b"") or an error means the server closed it. Read until one of them.
        if self.dropped_at_s is not None:
            return False
        try:
            async with asyncio.timeout(OPEN_CHECK_S):
                while await self.reader.read(65536):
                    pass
            return False
        except TimeoutError:
            return True
        except OSError:
            return False

    async def close(self) -> None:
        self.writer.close()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self.writer.wait_closed()
        except (TimeoutError, OSError):
            self.writer.transport.abort()


@dataclass
class WebSocketConnection:
    connection: ClientConnection
    number: int
    dropped_at_s: float | None = None

    async def watch(self, began: float) -> None:
        """Wait for the server to close the connection; note when."""
        await self.connection.wait_closed()
        self.dropped_at_s = time.monotonic() - began

    async def still_open(self) -> bool:
        if self.dropped_at_s is not None:
            return False
        try:
            await echo(self.connection, f"still-{self.number}")
        except (OpenFailed, websockets.ConnectionClosed, TimeoutError, OSError):
            return False
        return True

    async def close(self) -> None:
        # close() waits at most close_timeout for the server, then drops the connection.
        with contextlib.suppress(websockets.WebSocketException, OSError):
            await self.connection.close()
        self.connection.transport.abort()


Held = SSEStream | WebSocketConnection


def check_count(count: int) -> None:
    if count > MAX_CONNECTIONS:
        raise ValueError(
            f"count {count} > {MAX_CONNECTIONS}: one process may hold at most 20000 open files "
            "here and cannot raise that limit (RESEARCH.md section 7), so more connections "
            "would measure this client running out of sockets, not the server"
        )
    soft_limit, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft_limit != resource.RLIM_INFINITY and count + FD_HEADROOM > soft_limit:
        raise ValueError(
            f"count {count} needs about {count + FD_HEADROOM} open files, but this process may "
            f"open {soft_limit}: raise it (`ulimit -n`) or hold fewer connections"
        )


def error_kind(error: BaseException) -> str:
    if isinstance(error, OpenFailed):
        return error.kind
    if isinstance(error, websockets.InvalidStatus):
        return f"status {error.response.status_code}"
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(
        error, ConnectionResetError | asyncio.IncompleteReadError | websockets.ConnectionClosed
    ):
        return "closed"
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, OSError) and error.errno in errno.errorcode:
        return f"os error {errno.errorcode[error.errno]}"  # EMFILE, EADDRNOTAVAIL, ...
    return type(error).__name__


def sse_request(url: str, number: int) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None:
        raise ValueError(f"SSE holds need an http:// URL, got {url!r}")
    port = parts.port or 80
    query = f"{parts.query}&" if parts.query else ""
    target = f"{parts.path or '/'}?{query}{SSE_QUERY}&id=idle{number}"
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
    )
    return parts.hostname, port, request.encode("ascii")


def status_of(head: bytes) -> int | None:
    # `HTTP/1.1 200 OK`, and hypercorn's `HTTP/1.1 200 ` with no reason phrase.
    fields = head.split(b"\r\n", 1)[0].split(b" ", 2)
    if len(fields) < 2 or not fields[1].isdigit():
        return None
    return int(fields[1])


async def sse_handshake(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> bytes:
    """Send an SSE request and read up to its first event; the response head, OpenFailed
    unless answered 200. The connection is aborted on any failure (also on cancellation at a
    deadline)."""
    try:
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = status_of(head)
        if status != 200:
            raise OpenFailed(f"status {status}" if status else "bad response")
        # The first event ends with a blank line; chunked framing does not hide it.
        await reader.readuntil(b"\n\n")
    except BaseException:
        writer.transport.abort()
        raise
    return head


async def open_sse(url: str, number: int) -> SSEStream:
    host, port, request = sse_request(url, number)
    reader, writer = await asyncio.open_connection(host, port, limit=HEADER_LIMIT)
    await sse_handshake(reader, writer, request)
    return SSEStream(reader, writer)


async def echo(connection: ClientConnection, message: str) -> None:
    async with asyncio.timeout(ECHO_TIMEOUT_S):
        await connection.send(message)
        answer = await connection.recv()
    if answer != message:
        raise OpenFailed("wrong echo")


async def open_websocket(url: str, number: int) -> WebSocketConnection:
    # No keepalive pings: the connections are meant to sit idle, and 15000 ping timers would
    # load this client, not the server.
    connection = await connect(url, ping_interval=None, close_timeout=CLOSE_TIMEOUT_S)
    try:
        await echo(connection, f"idle-{number}")
    except BaseException:
        connection.transport.abort()
        raise
    return WebSocketConnection(connection, number)


async def open_all(
    opener: Callable[[int], Awaitable[Held]],
    count: int,
    deadline_s: float,
    concurrency: int,
    stall_s: float | None = None,
) -> tuple[list[Held], Counter[str], str]:
    """Open ``count`` connections, ``concurrency`` at a time, until done, the deadline, or
    (with ``stall_s``) no open settling for that long while some are under way; returns the
    connections, the errors by kind and how the phase ended (one of OPEN_ENDINGS)."""
    slots = asyncio.Semaphore(concurrency)

    async def one(number: int) -> Held:
        async with slots:
            return await opener(number)

    tasks = [asyncio.create_task(one(number)) for number in range(count)]
    ended = "settled"
    try:
        ended = await _wait_for_opens(tasks, deadline_s, stall_s)
    except BaseException:
        # This run is being cancelled (Ctrl-C): close what opened before passing it on.
        await close_all(opened(await settle(tasks)))
        raise
    outcomes = await settle(tasks)
    errors: Counter[str] = Counter()
    for outcome in outcomes:
        if isinstance(outcome, asyncio.CancelledError):
            errors["timeout"] += 1  # still under way, or not started, at the deadline
        elif isinstance(outcome, BaseException):
            errors[error_kind(outcome)] += 1
    return opened(outcomes), errors, ended


async def _wait_for_opens(
    tasks: list[asyncio.Task[Held]], deadline_s: float, stall_s: float | None
) -> str:
    deadline = time.monotonic() + deadline_s
    last_settled = time.monotonic()
    pending = set(tasks)
    while pending:
        now = time.monotonic()
        if now >= deadline:
            return "deadline"
        if stall_s is not None and now - last_settled >= stall_s:
            return "stalled"
        wait_s = deadline - now
        if stall_s is not None:
            wait_s = min(wait_s, last_settled + stall_s - now)
        done, pending = await asyncio.wait(
            pending, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED
        )
        if done:
            last_settled = time.monotonic()
    return "settled"


async def settle(tasks: list[asyncio.Task[Held]]) -> list[Held | BaseException]:
    """Cancel the opens still under way (each aborts its own socket) and collect outcomes."""
    for task in tasks:
        task.cancel()
    return await asyncio.gather(*tasks, return_exceptions=True)


def opened(outcomes: list[Held | BaseException]) -> list[Held]:
    return [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]


async def count_still_open(held: list[Held], concurrency: int) -> int:
    slots = asyncio.Semaphore(concurrency)

    async def check(connection: Held) -> bool:
        if isinstance(connection, SSEStream):
            return await connection.still_open()  # waits on silence: all at once
        async with slots:  # echoes make the server work: as many at a time as the opens
            return await connection.still_open()

    return sum(await asyncio.gather(*(check(connection) for connection in held)))


async def close_all(held: list[Held]) -> None:
    await asyncio.gather(*(connection.close() for connection in held), return_exceptions=True)


async def fresh_request(url: str) -> dict[str, Any]:
    """A new client's GET of ``url`` (plain HTTP/1.1, Connection: close): its status and time
    to the response head, or the error; given FRESH_TIMEOUT_S."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None:
        raise ValueError(f"a fresh request needs an http:// URL, got {url!r}")
    request = (
        f"GET {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1\r\n"
        f"Host: {parts.netloc}\r\nConnection: close\r\n\r\n"
    ).encode("ascii")
    began = time.monotonic()
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(FRESH_TIMEOUT_S):
            reader, writer = await asyncio.open_connection(
                parts.hostname, parts.port or 80, limit=HEADER_LIMIT
            )
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
        return {"status": None, "error": error_kind(error)}
    finally:
        if writer is not None:
            # abort() only schedules the close; wait for it, so that whatever the caller
            # counts next (sockets, memory) no longer sees this connection.
            writer.transport.abort()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    return {"status": status_of(head), "elapsed_ms": round((time.monotonic() - began) * 1000, 1)}


async def hold(
    kind: str,
    url: str,
    count: int,
    open_deadline_s: float,
    hold_s: float,
    while_held: Callable[[], dict[str, Any]] | None,
    concurrency: int,
    stall_s: float | None = None,
    fresh_url: str | None = None,
) -> tuple[HoldResult, dict[str, Any]]:
    opener = open_sse if kind == "sse" else open_websocket
    started = time.monotonic()
    held, errors, open_ended = await open_all(
        lambda number: opener(url, number), count, open_deadline_s, concurrency, stall_s
    )
    open_seconds = time.monotonic() - started
    began = time.monotonic()
    watchers = [asyncio.create_task(connection.watch(began)) for connection in held]
    try:
        # Halfway through the hold, with every connection open: the peak.
        await asyncio.sleep(hold_s / 2)
        open_at_peak = sum(1 for connection in held if connection.dropped_at_s is None)
        fresh = await fresh_request(fresh_url) if fresh_url else None
        # In a thread, so this loop keeps reading what the servers send while the caller
        # samples their memory.
        observed = await asyncio.to_thread(while_held) if while_held else {}
        await asyncio.sleep(max(0.0, hold_s - (time.monotonic() - began)))
        await _stop(watchers)
        still_open = await count_still_open(held, concurrency)
    finally:
        await _stop(watchers)
        await close_all(held)
    dropped = sorted(c.dropped_at_s for c in held if c.dropped_at_s is not None)
    result = HoldResult(
        kind,
        count,
        len(held),
        still_open,
        dict(errors),
        open_seconds,
        open_ended,
        dropped,
        fresh,
        open_at_peak,
    )
    return result, observed


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def hold_connections(
    kind: str,
    url: str,
    count: int,
    open_deadline_s: float,
    hold_s: float,
    while_held: Callable[[], dict[str, Any]] | None = None,
    concurrency: int = 100,
    stall_s: float | None = None,
    fresh_url: str | None = None,
) -> tuple[HoldResult, dict[str, Any]]:
    """Open up to ``count`` idle connections of ``kind`` to ``url``, hold them ``hold_s``
    (noting when the server drops any), and halfway through make a fresh request to
    ``fresh_url`` (if given) and call ``while_held``; then count those still open and close
    them all.

    ``url`` is the /sse endpoint (``http://``; the endless-stream query is added) or the
    WebSocket echo endpoint (``ws://``). At most ``concurrency`` opens run at once, so bursts
    stay under the server's listen backlog; opens still pending at ``open_deadline_s``, or
    when none has settled for ``stall_s`` (the server takes no more), are cancelled and counted
    as "timeout", so a server that serves one stream at a time cannot make this hang. Returns
    the result and whatever ``while_held`` returned ({} without it). Runs its own event loop
    in the calling thread; every socket is closed when it returns.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    check_count(count)
    if kind == "sse":
        sse_request(url, 0)  # refuses a URL it cannot use before anything is opened
    return asyncio.run(
        hold(kind, url, count, open_deadline_s, hold_s, while_held, concurrency, stall_s, fresh_url)
    )
