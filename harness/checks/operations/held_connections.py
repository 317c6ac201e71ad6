"""One SSE stream and one WebSocket held open through a live-load run, and what became of each:
kept (still delivering at the end), ended cleanly (the response's end, or a close frame),
closed (the connection ended without either), reset, or stalled (open but silent).

They run on an event loop of their own in a thread, so the caller's thread stays free to
apply the event; the clients' local ports let the caller find which server process holds each
connection (``holder_of``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import psutil
import websockets
from websockets.asyncio.client import ClientConnection, connect

from harness.benchmarks.idle import HEADER_LIMIT, OpenFailed, echo, error_kind, sse_handshake

SSE_INTERVAL_S = 0.5  # an event every half second: a stream that stops delivering shows
OPEN_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 2.0
# Open at the end but without an event for this many intervals: stalled, not kept.
STALLED_AFTER_INTERVALS = 4
CHUNKED_END = b"0\r\n\r\n"
# What became of a held connection (the evidence schema's enum is tested against these).
FATES = ("kept", "ended-cleanly", "closed", "reset", "stalled", "not-opened", "not-served")


@dataclass
class _Held:
    kind: str
    local_port: int | None = None
    opened_at: float | None = None  # time.time()
    events: int = 0  # SSE events or WebSocket echoes received
    last_event_at: float | None = None
    ended_at: float | None = None
    ending: str | None = None  # ended-cleanly, closed or reset, once the server ended it
    detail: str | None = None  # the close code, or why it never opened
    watcher: asyncio.Task[None] | None = None
    closer: Any = None
    still_open: Any = None

    def fate(self, now: float) -> dict[str, Any]:
        if self.opened_at is None:
            state = "not-opened"
        elif self.ending is not None:
            state = self.ending
        elif self.last_event_at is None or now - self.last_event_at > (
            STALLED_AFTER_INTERVALS * SSE_INTERVAL_S
        ):
            state = "stalled"
        else:
            state = "kept"
        return {
            "fate": state,
            "detail": self.detail,
            "events": self.events,
            "opened_at_unix": self.opened_at,
            "ended_at_unix": self.ended_at,
        }


async def _open_sse(url: str, held: _Held) -> None:
    parts = urlsplit(url)
    assert parts.hostname is not None
    target = f"{parts.path}?count=0&interval={SSE_INTERVAL_S:g}&id=liveload-{uuid.uuid4().hex[:8]}"
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
    ).encode("ascii")
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port, limit=HEADER_LIMIT)
    head = await sse_handshake(reader, writer, request)
    held.local_port = writer.get_extra_info("sockname")[1]
    held.opened_at = held.last_event_at = time.time()
    held.events = 1
    chunked = b"transfer-encoding: chunked" in head.lower()
    held.watcher = asyncio.create_task(_watch_sse(reader, held, chunked))

    async def close() -> None:
        writer.transport.abort()

    held.closer = close


async def _watch_sse(reader: asyncio.StreamReader, held: _Held, chunked: bool) -> None:
    tail = b""
    try:
        while data := await reader.read(65536):
            tail = (tail + data)[-64:]
            arrived = data.count(b"\n\n")
            if arrived:
                held.events += arrived
                held.last_event_at = time.time()
    except OSError as error:
        held.ending, held.detail = "reset", error_kind(error)
    else:
        # A chunked response that ends with its last chunk ended cleanly; one that stops
        # without it (or a body delimited by the close) was cut by the close.
        ended = chunked and tail.endswith(CHUNKED_END)
        held.ending = "ended-cleanly" if ended else "closed"
    held.ended_at = time.time()


async def _open_websocket(url: str, held: _Held) -> None:
    connection = await connect(url, ping_interval=None, close_timeout=CLOSE_TIMEOUT_S)
    try:
        await echo(connection, "opened")
    except BaseException:
        connection.transport.abort()
        raise
    held.local_port = connection.local_address[1]
    held.opened_at = held.last_event_at = time.time()
    held.events = 1
    held.watcher = asyncio.create_task(_watch_websocket(connection, held))

    async def close() -> None:
        with contextlib.suppress(websockets.WebSocketException, OSError):
            await connection.close()
        connection.transport.abort()

    async def still_open() -> bool:
        if held.ending is not None:
            return False
        try:
            await echo(connection, "still")
        except (OpenFailed, websockets.ConnectionClosed, TimeoutError, OSError):
            return False
        held.events += 1
        held.last_event_at = time.time()
        return True

    held.closer, held.still_open = close, still_open


async def _watch_websocket(connection: ClientConnection, held: _Held) -> None:
    await connection.wait_closed()
    held.ended_at = time.time()
    received = connection.close_rcvd
    if received is not None:
        held.ending, held.detail = "ended-cleanly", f"close code {received.code}"
    else:
        held.ending, held.detail = "reset", "no close frame"


@dataclass
class HeldConnections:
    """``with HeldConnections(sse_url, websocket_url) as held:``; ``websocket_url`` None where
    the configuration serves no WebSocket (``no_websocket_because`` says why)."""

    sse_url: str
    websocket_url: str | None
    no_websocket_because: str = ""
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _thread: threading.Thread | None = None
    _held: dict[str, _Held] = field(default_factory=dict)

    def __enter__(self) -> HeldConnections:
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._held["sse"] = self._open("sse", _open_sse, self.sse_url)
        if self.websocket_url is None:
            self._held["websocket"] = _Held("websocket", detail=self.no_websocket_because)
        else:
            self._held["websocket"] = self._open("websocket", _open_websocket, self.websocket_url)
        return self

    def _run(self, coroutine: Any, timeout_s: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout_s)

    def _open(self, kind: str, opener: Any, url: str) -> _Held:
        held = _Held(kind)

        async def attempt() -> None:
            async with asyncio.timeout(OPEN_TIMEOUT_S):
                await opener(url, held)

        try:
            self._run(attempt(), OPEN_TIMEOUT_S + 5)
        except Exception as error:  # recorded: a connection that never opened is a fact
            held.detail = error_kind(error)
        return held

    def local_ports(self) -> dict[str, int]:
        return {kind: h.local_port for kind, h in self._held.items() if h.local_port is not None}

    def fates(self) -> dict[str, dict[str, Any]]:
        """What became of each, now: a WebSocket that is still open is asked for an echo."""
        websocket = self._held["websocket"]
        if websocket.still_open is not None:
            self._run(websocket.still_open(), OPEN_TIMEOUT_S + 5)
        now = time.time()
        fates = {kind: held.fate(now) for kind, held in self._held.items()}
        if self.websocket_url is None:
            fates["websocket"]["fate"] = "not-served"
        return fates

    def __exit__(self, *exc_info: object) -> None:
        async def close_all() -> None:
            for held in self._held.values():
                if held.watcher is not None:
                    held.watcher.cancel()
                if held.closer is not None:
                    with contextlib.suppress(Exception):
                        await held.closer()

        try:
            self._run(close_all(), CLOSE_TIMEOUT_S + 5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._loop.close()


def holder_of(root_pid: int, client_port: int) -> int | None:
    """The process of the server's tree that holds the connection from ``client_port``."""
    try:
        root = psutil.Process(root_pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    for process in processes:
        try:
            connections = process.net_connections(kind="tcp")
        except psutil.Error:
            continue
        if any(c.raddr and c.raddr.port == client_port for c in connections):
            return process.pid
    return None
