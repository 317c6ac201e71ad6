"""The slow-client check: clients that send their headers a byte at a time (slowloris) while
an ordinary client makes a request. Is the ordinary one served, and when does the server drop
the slow ones?"""

from __future__ import annotations

import select
import socket
import time
from typing import Any

from harness.checks import Check, CheckContext, Finding
from harness.checks.hazards._shared import GROUP, address
from harness.checks.hazards.raw_http import Address, connect, exchange

SLOW_CLIENTS = 16  # at least; more where the declared capacity is larger (see slow_clients)
BYTE_EVERY_S = 1.0
HOLD_S = 15.0  # how long the slow clients keep trickling: the bound of the check
ORDINARY_AFTER_S = 2.0
ORDINARY_LIMIT_S = 5.0
PATH = "/json/sync"


def slow_clients(capacity: int | None) -> int:
    """Enough slow clients to hold every request slot the server declares, and one more."""
    return SLOW_CLIENTS if capacity is None else max(SLOW_CLIENTS, capacity + 1)


THRESHOLDS = (
    f"{SLOW_CLIENTS} connections (or the server's declared capacity, workers x threads as "
    "deployed, + 1 where that is more) send a request line and then one header byte every "
    f"{BYTE_EVERY_S:g} s, never finishing, for {HOLD_S:g} s; {ORDINARY_AFTER_S:g} s in, an "
    f"ordinary GET {PATH} on a new connection. Outcome: yes = the ordinary request is answered "
    f"within {ORDINARY_LIMIT_S:g} s; no = it is not. The evidence says when the server dropped "
    f"each slow connection (or that it kept them all for {HOLD_S:g} s)."
)


class SlowClient:
    def __init__(self, target: Address) -> None:
        self.sock: socket.socket | None = connect(target, 5.0)
        self.sock.setblocking(False)
        self.sent = 0
        self.dropped_at_s: float | None = None
        self.answer = b""
        self._send(f"GET {PATH} HTTP/1.1\r\nHost: {target.host_header}\r\nX-Slow: ".encode())

    def _send(self, data: bytes) -> None:
        assert self.sock is not None
        self.sock.send(data)
        self.sent += len(data)

    def trickle(self, at_s: float) -> None:
        """One more byte, unless the server has closed the connection meanwhile."""
        if self.sock is None:
            return
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
            if readable:
                data = self.sock.recv(4096)
                self.answer += data[:300]
                if not data:
                    raise ConnectionResetError
            self._send(b"a")
        except (ConnectionError, BlockingIOError, OSError):
            self.dropped_at_s = at_s
            self.close()

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _ordinary(target: Address) -> dict[str, Any]:
    request = (
        f"GET {PATH} HTTP/1.1\r\nHost: {target.host_header}\r\nConnection: close\r\n\r\n"
    ).encode()
    result = exchange(target, request, idle_s=ORDINARY_LIMIT_S, limit_s=ORDINARY_LIMIT_S)
    status = result.responses[0].status if result.responses else None
    return {"status": status, "answered": status == 200, **result.as_record()}


def run(context: CheckContext) -> Finding:
    target = address(context)
    began = time.monotonic()
    count, sized = slow_clients(context.capacity()), context.capacity_text()
    clients = [SlowClient(target) for _ in range(count)]
    ordinary: dict[str, Any] | None = None
    try:
        while (now := time.monotonic() - began) < HOLD_S:
            for client in clients:
                client.trickle(now)
            if ordinary is None and now >= ORDINARY_AFTER_S:
                ordinary = _ordinary(target)  # blocks for up to ORDINARY_LIMIT_S
                continue
            time.sleep(BYTE_EVERY_S)
    finally:
        for client in clients:
            client.close()
    assert ordinary is not None
    dropped = sorted(client.dropped_at_s for client in clients if client.dropped_at_s is not None)
    evidence = {
        "instance": context.shared.describe(),
        "capacity": context.capacity(),
        "sized": sized,
        "ordinary": ordinary,
        "slow_clients": [
            {
                "sent_bytes": client.sent,
                "dropped_at_s": client.dropped_at_s,
                "answer": client.answer.decode("latin-1"),
            }
            for client in clients
        ],
    }
    if dropped:
        drops = (
            f"the server dropped {len(dropped)} of {count} slow clients, the first after "
            f"{dropped[0]:.0f} s"
        )
    else:
        drops = f"the server kept all {count} slow clients for {HOLD_S:g} s"
    if not ordinary["answered"]:
        got = (
            f"HTTP {ordinary['status']}"
            if ordinary["status"]
            else f"connection {ordinary['ended']}"
        )
        return Finding(
            "no",
            f"With {count} slow clients connected, an ordinary request was not answered "
            f"within {ORDINARY_LIMIT_S:g} s ({got}); {drops}. Sized as deployed: {sized}.",
            evidence,
        )
    return Finding(
        "yes",
        f"An ordinary request was answered in {ordinary['elapsed_s'] * 1000:.0f} ms beside "
        f"{count} slow clients; {drops}. Sized as deployed: {sized}.",
        evidence,
    )


CHECKS = [
    Check(
        timed=True,
        id="slow-client",
        title="Slow clients (slowloris)",
        group=GROUP,
        question=(
            "While clients send their headers a byte at a time, are ordinary requests still "
            "served, and does the server drop the slow ones?"
        ),
        thresholds=THRESHOLDS,
        run=run,
    ),
]
