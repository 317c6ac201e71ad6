"""The clients of the long-work check: one that waits for a long answer, one that reads a long
event stream, and one that keeps sending short requests on a fixed schedule. Each records how
its work ended and when, in seconds after it started, as a client with generous timeouts (a
browser, a worker calling an internal API) would see it.

Every request goes on a connection of its own (``Connection: close``), so that a short request
never waits behind a long one on a kept-alive connection.
"""

from __future__ import annotations

import http.client
import threading
import time
from typing import Any
from urllib.parse import urlsplit

HEADERS = {"User-Agent": "serving-django-harness", "Connection": "close"}
KEPT_BYTES = 300  # of a body, for the evidence
# How a response ended. ``complete``: a 200 with its whole body (the check decides whether the
# body is what the work makes); ``error-status``: another status (a 502/504 from the server);
# ``closed-before-answer``: the connection closed before a status line; ``reset``: the peer
# reset the connection; ``truncated``: the body ended before its framing said it would;
# ``timed-out``: nothing arrived for as long as the client waits; ``connect-error``: no
# connection; ``error``: any other failure (its message is kept).
ENDS = (
    "complete",
    "error-status",
    "closed-before-answer",
    "reset",
    "truncated",
    "timed-out",
    "connect-error",
    "error",
)
CUT_ENDS = frozenset(ENDS) - {"complete"}


def ended_by(error: BaseException) -> str:
    """Which of ``ENDS`` an exception of http.client or of the socket means."""
    # RemoteDisconnected is a ConnectionResetError too: it is the closed-before-answer case.
    if isinstance(error, http.client.RemoteDisconnected):
        return "closed-before-answer"
    if isinstance(error, http.client.IncompleteRead):
        return "truncated"
    if isinstance(error, ConnectionRefusedError):
        return "connect-error"
    if isinstance(error, ConnectionResetError | BrokenPipeError):
        return "reset"
    if isinstance(error, TimeoutError):
        return "timed-out"
    return "error"


def _connection(url: str, timeout_s: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_s)
    return connection, parts.path + (f"?{parts.query}" if parts.query else "")


def _end(started: float, status: int | None, ended: str, error: str | None) -> dict[str, Any]:
    return {
        "status": status,
        "ended": ended,
        "ended_after_s": round(time.monotonic() - started, 3),
        "error": error,
    }


def _described(failure: BaseException) -> str:
    return f"{type(failure).__name__}: {failure}"[:300]


def fetch(url: str, timeout_s: float) -> tuple[dict[str, Any], bytes]:
    """One GET and what became of it: status, how it ended, after how many seconds, and the
    body received (whole or in part)."""
    connection, target = _connection(url, timeout_s)
    started = time.monotonic()
    status: int | None = None
    body = b""
    error = None
    try:
        connection.request("GET", target, headers=HEADERS)
        response = connection.getresponse()
        status = response.status
        body = response.read()
        ended = "complete" if status == 200 else "error-status"
    except (OSError, http.client.HTTPException) as failure:
        ended, error = ended_by(failure), _described(failure)
        if isinstance(failure, http.client.IncompleteRead):
            body = failure.partial
    finally:
        connection.close()
    return {
        **_end(started, status, ended, error),
        "body_bytes": len(body),
        "body_head": body[:KEPT_BYTES].decode("latin-1"),
    }, body


def read_events(url: str, limit_s: float, stall_s: float) -> dict[str, Any]:
    """A text/event-stream read to its end, or until ``limit_s`` seconds have passed (or
    nothing arrived for ``stall_s``): the arrival of every event (a ``data:`` line), in
    seconds after the request was sent, and how the stream ended."""
    connection, target = _connection(url, stall_s)
    started = time.monotonic()
    arrivals: list[float] = []
    status: int | None = None
    error = None
    ended = "complete"
    try:
        connection.request("GET", target, headers=HEADERS)
        response = connection.getresponse()
        status = response.status
        if status != 200:
            response.read()
            ended = "error-status"
        while status == 200:
            line = response.readline()
            if not line:
                break
            if line.startswith(b"data:"):
                arrivals.append(round(time.monotonic() - started, 3))
            if time.monotonic() - started > limit_s:
                ended = "timed-out"
                break
    except (OSError, http.client.HTTPException) as failure:
        ended, error = ended_by(failure), _described(failure)
    finally:
        connection.close()
    return {
        **_end(started, status, ended, error),
        "events": len(arrivals),
        "event_arrivals_s": arrivals,
    }


def keep_sending(
    url: str, interval_s: float, timeout_s: float, stop: threading.Event
) -> list[dict[str, Any]]:
    """One short GET every ``interval_s`` seconds, one at a time, until ``stop`` is set: a
    slot missed while a request was still out is skipped, not sent late in a burst. Each
    request's time is from its sending (``sent_after_s``: from the first one)."""
    began = time.monotonic()
    sent: list[dict[str, Any]] = []
    slot = 0
    while not stop.is_set():
        due = began + slot * interval_s
        if stop.wait(max(0.0, due - time.monotonic())):
            break
        sent_after_s = time.monotonic() - began
        result, _ = fetch(url, timeout_s)
        sent.append(
            {
                "sent_after_s": round(sent_after_s, 3),
                "status": result["status"],
                "ended": result["ended"],
                "latency_s": result["ended_after_s"],
            }
        )
        slot = max(slot + 1, int((time.monotonic() - began) / interval_s) + 1)
    return sent
