"""A client that gives up: it sends one GET over a raw socket and, when told, closes the
connection without waiting for the rest, as a client with a timeout or a closed browser tab
does.

It closes in order (FIN). Linux sends a reset (RST) instead when unread data waits in the
socket, so everything that arrived is read first. An abortive close (RST through ``SO_LINGER``
0) was tried on four configurations when the client-disconnect check was written and changed
none of their verdicts, so the check does not spend time on it.
"""

from __future__ import annotations

import socket
import time
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

CONNECT_TIMEOUT_S = 5.0
KEPT_BYTES = 300  # of the response's head, for the evidence


def request_bytes(url: str) -> bytes:
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return (
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "User-Agent: serving-django-harness\r\nAccept: */*\r\n\r\n"
    ).encode("ascii")


def status_of(head: bytes) -> int | None:
    """The status code of an HTTP/1.x status line, if one has arrived."""
    line = head.split(b"\r\n", 1)[0].split()
    if len(line) >= 2 and line[0].startswith(b"HTTP/") and line[1].isdigit():
        return int(line[1])
    return None


class AbandonedRequest:
    """A GET sent at once on a connection of its own; ``leave()`` reads what has arrived and
    closes. Times are ``time.time()``, comparable with the sample project's records on the same
    machine. Used as a context manager, it is closed however the block ends."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._connection = socket.create_connection(
            (parts.hostname, parts.port), timeout=CONNECT_TIMEOUT_S
        )
        self.sent_at = time.time()
        self._connection.sendall(request_bytes(url))

    def leave(self) -> dict[str, Any]:
        """Close the connection now; what the client had seen by then."""
        received, server_closed = self._drain()
        left_at = time.time()
        self._connection.close()
        return {
            "sent_at": self.sent_at,
            "left_at": left_at,
            "seconds_before_leaving": left_at - self.sent_at,
            "status": status_of(received),
            "received_bytes": len(received),
            "received_head": received[:KEPT_BYTES].decode("latin-1"),
            "server_closed_first": server_closed,
        }

    def _drain(self) -> tuple[bytes, bool]:
        """What waits unread (so that closing sends a FIN, not a reset), and whether the server
        had closed the connection first."""
        self._connection.setblocking(False)
        data = b""
        while True:
            try:
                chunk = self._connection.recv(65536)
            except BlockingIOError:
                return data, False
            except ConnectionError:
                return data, True
            if not chunk:
                return data, True
            data += chunk

    def __enter__(self) -> AbandonedRequest:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._connection.close()
