"""The keepalive-idle check: how long does the server keep an idle keep-alive connection open?

A reverse proxy that keeps upstream connections alive (nginx's keepalive, 60 s idle by default)
must close them before the server does: when the server closes first, a request the proxy sends
on that connection at the same moment fails (the 502 race)."""

from __future__ import annotations

import time

from harness.checks import Check, CheckContext, Finding
from harness.checks.hazards._shared import GROUP, address
from harness.checks.hazards.raw_http import (
    Exchange,
    Response,
    connect,
    parse_responses,
    read_until_quiet,
)

PROXY_IDLE_S = 60.0  # nginx's keepalive_timeout for upstream connections
WAIT_S = PROXY_IDLE_S + 5.0
PATH = "/json/sync"

THRESHOLDS = (
    f"One GET {PATH} on a keep-alive connection, then the connection is left idle for up to "
    f"{WAIT_S:g} s, watching for the server to close it. Outcome: yes = the server announced "
    "Connection: close with its response (no idle connection, so no race), or kept the idle "
    f"connection longer than a proxy's {PROXY_IDLE_S:g} s; partial = it closed the idle "
    f"connection silently before {PROXY_IDLE_S:g} s: a proxy in front must keep idle upstream "
    "connections for less than that."
)


def run(context: CheckContext) -> Finding:
    target = address(context)
    result = Exchange()
    request = f"GET {PATH} HTTP/1.1\r\nHost: {target.host_header}\r\n\r\n".encode()
    with connect(target, WAIT_S) as sock:
        sock.sendall(request)
        began = time.monotonic()
        # The response: read until the connection has been quiet for half a second.
        read_until_quiet(sock, 0.5, 10.0, result, began)
        answered_s = time.monotonic() - began
        idle = Exchange()
        if result.ended not in ("closed", "reset"):
            read_until_quiet(sock, WAIT_S, WAIT_S, idle, time.monotonic())
        closed_after_s = (
            time.monotonic() - began - answered_s if idle.ended in ("closed", "reset") else None
        )
    result.responses = parse_responses(result.received)
    response = result.responses[0] if result.responses else None
    evidence = {
        "instance": context.shared.describe(),
        "response": result.as_record(),
        "connection_header": response.header("connection") if response else None,
        "ended": result.ended if result.ended in ("closed", "reset") else idle.ended,
        "idle_closed_after_s": round(closed_after_s + 0.5, 1)
        if closed_after_s is not None
        else None,
        "waited_s": WAIT_S,
    }
    outcome, summary = judge_response(response, evidence["ended"], evidence["idle_closed_after_s"])
    return Finding(outcome, summary, evidence)


def judge_response(
    response: Response | None, ended: str, idle_closed_after_s: float | None = None
) -> tuple[str, str]:
    """The outcome from the response, how the connection ended ("closed"/"reset" while the
    response was read; otherwise how the idle wait ended) and when an idle close came."""
    if response is None or response.status != 200:
        return "error", "The keep-alive request was not answered with 200."
    if (response.header("connection") or "").lower() == "close":
        return "yes", (
            "The server closes the connection after each response (Connection: close): no idle "
            "connection for a proxy to reuse."
        )
    if idle_closed_after_s is None and ended in ("closed", "reset"):
        return "partial", (
            "The server closed the connection within half a second of its response without "
            "announcing Connection: close: a proxy reusing it races the close."
        )
    if idle_closed_after_s is None:
        return "yes", f"The idle connection was still open after {WAIT_S:g} s."
    return "partial", (
        f"The server closed the idle connection after {idle_closed_after_s:g} s without notice: "
        f"a proxy's upstream keep-alive must be shorter than that (nginx's is "
        f"{PROXY_IDLE_S:g} s)."
    )


CHECKS = [
    Check(
        id="keepalive-idle",
        title="Idle keep-alive connections",
        group=GROUP,
        question=(
            "How long does the server keep an idle keep-alive connection open, and can a proxy "
            "reusing it race the server's close (the 502 race)?"
        ),
        thresholds=THRESHOLDS,
        run=run,
    ),
]
