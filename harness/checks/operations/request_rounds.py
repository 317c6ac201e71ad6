"""A fixed number of GET requests sent by a few keep-alive clients at once (a closed loop:
each client sends its next request when the last one is answered), every answer counted by
its status and every failure by its exception; optionally each failed request sent once more
at once, as a client that retries would: every failed one (``RETRY_FAILED``), or only one that
got no answer at all (``RETRY_UNANSWERED``), which is what browsers and proxies do with an
idempotent request whose kept-alive connection the server closed (RFC 9112 9.3.1)."""

from __future__ import annotations

import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

RETRY_NEVER = "never"
RETRY_FAILED = "failed"  # any request not answered with a 2xx status
RETRY_UNANSWERED = "unanswered"  # only a request that got no answer (no status at all)


@dataclass
class Round:
    requests: int
    clients: int
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # no answer: the exception's name
    unsent: int = 0  # not sent: the round ran out of time first
    elapsed_s: float = 0.0
    # What the requests retried got when sent again (status, or the exception's name).
    retried: Counter[str] = field(default_factory=Counter)

    @property
    def failed(self) -> int:
        """Requests not answered with a 2xx status."""
        return self.requests - _answered(self.statuses)

    @property
    def failed_again(self) -> int:
        """Retried requests not answered with a 2xx status the second time either."""
        return sum(self.retried.values()) - _answered(self.retried)

    def as_record(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "clients": self.clients,
            "statuses": dict(sorted(self.statuses.items())),
            "errors": dict(sorted(self.errors.items())),
            "unsent": self.unsent,
            "failed": self.failed,
            "retried": dict(sorted(self.retried.items())),
            "failed_again": self.failed_again,
            "elapsed_s": round(self.elapsed_s, 3),
        }


def _answered(outcomes: Counter[str]) -> int:
    return sum(n for outcome, n in outcomes.items() if outcome.startswith("2"))


def _get(session: httpx.Client, url: str) -> tuple[str, bool]:
    """(the status, or the exception's name; whether it was answered at all)."""
    try:
        return str(session.get(url).status_code), True
    except httpx.HTTPError as error:
        return type(error).__name__, False


def send_round(
    url: str,
    requests: int,
    clients: int,
    timeout_s: float,
    limit_s: float,
    retry: str = RETRY_NEVER,
) -> Round:
    """``requests`` GETs of ``url`` from ``clients`` threads, each with its own connection;
    none is sent after ``limit_s`` (a server that hangs every request ends the round too).
    With ``retry`` (RETRY_FAILED or RETRY_UNANSWERED), a request that failed (or got no answer
    at all) is sent once more by the same client right away.

    The clients are made before the first request, with one TLS context: making each its own
    (loading the CA bundle) took up to 2 s on a loaded machine, a gap in the traffic longer
    than a short database idle timeout."""
    result = Round(requests, clients)
    context = ssl.create_default_context()
    sessions = [
        httpx.Client(timeout=timeout_s, verify=context) for _ in range(min(clients, requests))
    ]
    remaining = iter(range(requests))
    lock = threading.Lock()
    deadline = time.monotonic() + limit_s

    def next_request() -> bool:
        with lock:
            if time.monotonic() > deadline:
                return False
            return next(remaining, None) is not None

    def client(session: httpx.Client) -> None:
        with session:
            while next_request():
                outcome, answered = _get(session, url)
                with lock:
                    (result.statuses if answered else result.errors)[outcome] += 1
                if (retry == RETRY_FAILED and not (answered and outcome.startswith("2"))) or (
                    retry == RETRY_UNANSWERED and not answered
                ):
                    again, _ = _get(session, url)
                    with lock:
                        result.retried[again] += 1

    threads = [
        threading.Thread(target=client, args=(session,), name=f"round-client-{n}", daemon=True)
        for n, session in enumerate(sessions)
    ]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.elapsed_s = time.monotonic() - began
    result.unsent = sum(1 for _ in remaining)
    return result
