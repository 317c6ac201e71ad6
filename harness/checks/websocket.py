"""Do WebSockets work? Three messages to the Channels echo consumer, which must come back in order.

The client is the ``websockets`` library. It sends the three messages back to back, then reads
the answers, so a server that reorders or loses one shows it. A WSGI server cannot carry a
WebSocket at all: Django answers the upgrade request as an ordinary request for an unknown path,
and the refusal's status is what we record.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import tomllib
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from harness.checks import Check, CheckContext, Finding
from harness.endpoints import ENDPOINTS_FILE

ENDPOINT = "websocket"
MESSAGE_COUNT = 3
OPEN_TIMEOUT_S = 10.0  # the opening handshake
RECEIVE_TIMEOUT_S = 5.0  # for all the echoes together, after the last message was sent
CLOSE_TIMEOUT_S = 2.0
BODY_LIMIT = 2000  # characters of a refusal's body kept in the evidence
THRESHOLDS = (
    f"yes when the handshake answers 101 and all {MESSAGE_COUNT} text messages, sent back to "
    f"back, come back unchanged and in order within {RECEIVE_TIMEOUT_S:g} s; no when the upgrade "
    f"is refused (the HTTP status is recorded), the connection fails or closes, or a message is "
    f"missing, changed or out of order. The handshake may take {OPEN_TIMEOUT_S:g} s."
)


def websocket_path(context: CheckContext) -> str:
    """The echo consumer's path: from the context if given, else endpoints.toml."""
    if ENDPOINT in context.endpoints:
        return context.endpoints[ENDPOINT]
    with ENDPOINTS_FILE.open("rb") as stream:
        return tomllib.load(stream)["websocket_endpoints"][ENDPOINT]


def websocket_url(context: CheckContext) -> str:
    return "ws" + context.shared.url(websocket_path(context)).removeprefix("http")


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:300]


def _refusal(error: InvalidStatus) -> dict[str, Any]:
    response = error.response
    body = (response.body or b"").decode("utf-8", errors="replace")
    return {
        "status": response.status_code,
        "reason": response.reason_phrase,
        "headers": dict(response.headers.raw_items()),
        "body": body[:BODY_LIMIT],
    }


def _as_text(message: str | bytes) -> str:
    """Text as it is; a binary frame (the echo should not send one) described, for JSON."""
    if isinstance(message, str):
        return message
    return f"<binary frame, {len(message)} bytes: {message[:64].hex()}>"


async def _receive(connection: Any, origin: float, received: list[dict[str, Any]]) -> None:
    for _ in range(MESSAGE_COUNT):
        message = await connection.recv()
        received.append({"message": _as_text(message), "at_s": time.perf_counter() - origin})


async def echo_exchange(url: str, messages: list[str]) -> dict[str, Any]:
    """Open, send every message, then read the echoes; every step's time from the start."""
    exchange: dict[str, Any] = {
        "url": url,
        "handshake": None,
        "refusal": None,
        "sent": [],
        "received": [],
        "problem": None,
    }
    origin = time.perf_counter()
    try:
        async with connect(
            url, open_timeout=OPEN_TIMEOUT_S, close_timeout=CLOSE_TIMEOUT_S, ping_interval=None
        ) as connection:
            exchange["handshake"] = {
                "status": connection.response.status_code,
                "after_s": time.perf_counter() - origin,
                "headers": dict(connection.response.headers.raw_items()),
            }
            for message in messages:
                await connection.send(message)
                exchange["sent"].append({"message": message, "at_s": time.perf_counter() - origin})
            try:
                await asyncio.wait_for(
                    _receive(connection, origin, exchange["received"]), RECEIVE_TIMEOUT_S
                )
            except TimeoutError:
                exchange["problem"] = f"no further message within {RECEIVE_TIMEOUT_S:g} s"
    except ConnectionClosed as error:
        exchange["problem"] = f"the server closed the connection: {_error_text(error)}"
    except InvalidStatus as error:
        exchange["refusal"] = _refusal(error)
        exchange["problem"] = f"upgrade refused with HTTP {error.response.status_code}"
    except (InvalidHandshake, OSError, TimeoutError) as error:
        exchange["problem"] = f"handshake failed: {_error_text(error)}"
    return exchange


def round_trips(exchange: dict[str, Any]) -> list[float]:
    """Seconds from sending each message to receiving the echo in the same position."""
    return [
        answer["at_s"] - sent["at_s"]
        for sent, answer in zip(exchange["sent"], exchange["received"], strict=False)
    ]


def judge(context: CheckContext, exchange: dict[str, Any]) -> tuple[str, str]:
    sent = [item["message"] for item in exchange["sent"]]
    received = [item["message"] for item in exchange["received"]]
    refusal = exchange["refusal"]
    if refusal is not None:
        status = f"{refusal['status']} {refusal['reason']}".strip()
        if context.server.interface == "wsgi":
            return "no", (
                f"WSGI cannot carry WebSockets: the upgrade request got {status} "
                "(Django answered it as a plain HTTP request)."
            )
        return "no", f"The WebSocket upgrade was refused with {status}."
    if exchange["handshake"] is None:
        return "no", f"No WebSocket: the {exchange['problem']}."
    if received == sent and len(sent) == MESSAGE_COUNT:
        trips = round_trips(exchange)
        return "yes", (
            f"Echoed {MESSAGE_COUNT} messages in order; round trips "
            f"{min(trips) * 1000:.1f}-{max(trips) * 1000:.1f} ms."
        )
    order = ", ".join(
        str(sent.index(message) + 1) if message in sent else "?" for message in received
    )
    got = f"got {len(received)} of {len(sent)} back (order: {order or 'none'})"
    if sorted(received) == sorted(sent):
        return "no", f"Connected, but the echoes came out of order: {got}."
    problem = f"; {exchange['problem']}" if exchange["problem"] else ""
    return "no", f"Connected, but the echo was wrong: {got}{problem}."


def check_websocket(context: CheckContext) -> Finding:
    token = secrets.token_hex(4)
    messages = [f"message {number} of {MESSAGE_COUNT} ({token})" for number in (1, 2, 3)]
    url = websocket_url(context)
    exchange = asyncio.run(echo_exchange(url, messages))
    outcome, summary = judge(context, exchange)
    evidence = {
        "instance": context.shared.describe(),
        "client": "websockets (asyncio client)",
        **exchange,
        "round_trips_s": round_trips(exchange),
    }
    return Finding(outcome, summary, evidence)


CHECKS = [
    Check(
        id="websocket",
        title="WebSocket echo",
        group="WebSockets",
        question="Does the Channels echo consumer answer three messages, in order?",
        thresholds=THRESHOLDS,
        run=check_websocket,
    ),
]
