"""An HTTP/3 client for the http3 check: one GET over QUIC, driven by aioquic.

curl on Debian 12 has no HTTP/3, so the request is made from Python with aioquic's QUIC
connection and its H3 layer (the same library Hypercorn serves HTTP/3 with, but used here as
a client, on the client's side of the handshake). The run's CA is the only one trusted, as
for every TLS check.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, ProtocolNegotiated, QuicEvent

USER_AGENT = b"serving-django-http3-check"
# Response headers kept in the evidence: enough to see what served it and what it advertises.
KEPT_HEADERS = ("content-type", "server", "alt-svc", "content-length")


class _H3Client(QuicConnectionProtocol):
    """A QUIC connection with an H3 layer that completes one future per request stream."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._h3 = H3Connection(self._quic)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._answers: dict[int, dict[str, Any]] = {}
        self.alpn: str | None = None
        self.terminated: str | None = None

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ProtocolNegotiated):
            self.alpn = event.alpn_protocol
        if isinstance(event, ConnectionTerminated):
            self.terminated = f"error code {event.error_code}: {event.reason_phrase or 'no reason'}"
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError(f"connection closed ({self.terminated})"))
        for h3_event in self._h3.handle_event(event):
            self._h3_event(h3_event)

    def _h3_event(self, event: H3Event) -> None:
        if not isinstance(event, HeadersReceived | DataReceived):
            return
        answer = self._answers.setdefault(event.stream_id, {"headers": [], "body": b""})
        if isinstance(event, HeadersReceived):
            answer["headers"] += [(name.decode(), value.decode()) for name, value in event.headers]
        else:
            answer["body"] += event.data
        future = self._waiting.get(event.stream_id)
        if event.stream_ended and future is not None and not future.done():
            future.set_result(answer)

    async def get(self, authority: str, path: str) -> dict[str, Any]:
        stream_id = self._quic.get_next_available_stream_id()
        self._h3.send_headers(
            stream_id,
            [
                (b":method", b"GET"),
                (b":scheme", b"https"),
                (b":authority", authority.encode()),
                (b":path", path.encode()),
                (b"user-agent", USER_AGENT),
            ],
            end_stream=True,
        )
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[stream_id] = future
        self.transmit()
        return await future


def _quiet_abandoned_handshake(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """asyncio's handler, minus aioquic's handshake waiter left with a ConnectionError when
    the wait is given up (no QUIC listener): the result already says so."""
    if isinstance(context.get("exception"), ConnectionError) and "future" in context:
        return
    loop.default_exception_handler(context)


async def _get(url: str, ca_file: Path) -> dict[str, Any]:
    asyncio.get_running_loop().set_exception_handler(_quiet_abandoned_handshake)
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN)
    configuration.load_verify_locations(cafile=str(ca_file))
    result: dict[str, Any] = {"alpn": None}
    async with connect(
        host, port, configuration=configuration, create_protocol=_H3Client
    ) as client:
        assert isinstance(client, _H3Client)
        result["alpn"] = client.alpn
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        answer = await client.get(parts.netloc, path or "/")
    headers = answer["headers"]
    status = next((value for name, value in headers if name == ":status"), None)
    kept: dict[str, str] = {}
    for name, value in headers:
        if name in KEPT_HEADERS:  # repeated fields joined, as HTTP allows
            kept[name] = f"{kept[name]}, {value}" if name in kept else value
    return {
        **result,
        "status": int(status) if status and status.isdigit() else None,
        "headers": kept,
        "body_bytes": len(answer["body"]),
    }


def http3_get(url: str, ca_file: Path, timeout_s: float) -> dict[str, Any]:
    """One GET of an ``https://`` URL over HTTP/3 (QUIC on the URL's port, as UDP): status,
    the ALPN protocol QUIC's handshake chose, kept headers and the body's size; ``error`` says
    why there is no answer (no QUIC listener, a failed handshake, or none within
    ``timeout_s``)."""
    try:
        answer = asyncio.run(asyncio.wait_for(_get(url, ca_file), timeout_s))
    except TimeoutError:
        return _failed(url, f"no HTTP/3 answer within {timeout_s:g} s")
    except (ConnectionError, OSError, ValueError) as error:
        return _failed(url, f"{type(error).__name__}: {error}"[:300])
    return {"url": url, "error": None, "http_version": "HTTP/3", **answer}


def _failed(url: str, error: str) -> dict[str, Any]:
    return {
        "url": url,
        "error": error,
        "http_version": None,
        "alpn": None,
        "status": None,
        "headers": {},
        "body_bytes": None,
    }
