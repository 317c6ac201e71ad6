"""The websocket-limits check: a large WebSocket message, a huge one, and an idle connection.

A server with no message limit holds whatever a client sends before the application sees any
of it; the usual defence is a maximum message size that closes the connection with 1009
("message too big"). An idle WebSocket behind proxies is kept alive by pings; a server that
never pings leaves that to the application."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
import time
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from harness.checks import Check, CheckContext, Finding
from harness.checks.hazards._shared import GROUP, address, without_websockets
from harness.checks.hazards.memory import MemoryWatch
from harness.checks.websocket import websocket_path, websocket_url

MIB = 1024 * 1024
LARGE_BYTES = 2 * MIB  # what an application may well send: must come back
HUGE_BYTES = 20 * MIB  # more than any default limit: should be refused
ECHO_TIMEOUT_S = 15.0
IDLE_WATCH_S = 25.0  # longer than the usual 20 s ping interval
MESSAGE_TOO_BIG = 1009

THRESHOLDS = (
    f"Over the echo consumer: a {LARGE_BYTES // MIB} MiB text message, then (new connection) a "
    f"{HUGE_BYTES // MIB} MiB one, each given {ECHO_TIMEOUT_S:g} s to come back, with the "
    "server's resident memory sampled; then a third connection left idle for "
    f"{IDLE_WATCH_S:g} s (answering pings) to see whether the server pings. Outcome: yes = the "
    f"{HUGE_BYTES // MIB} MiB message is refused with close code {MESSAGE_TOO_BIG} and the "
    f"{LARGE_BYTES // MIB} MiB one echoed; partial = it is refused another way (another close "
    f"code, a dropped connection) or the {LARGE_BYTES // MIB} MiB one is refused too; no = the "
    f"{HUGE_BYTES // MIB} MiB message is accepted (no message limit); not-applicable on WSGI."
)


async def _echo(url: str, size: int) -> dict[str, Any]:
    """Send one text message of ``size`` bytes; what came back, or how the connection ended."""
    message = "x" * size
    record: dict[str, Any] = {"sent_bytes": size, "echoed": False, "close_code": None}
    began = time.monotonic()
    try:
        async with connect(url, max_size=None, ping_interval=None, close_timeout=2) as ws:
            await ws.send(message)
            answer = await asyncio.wait_for(ws.recv(), ECHO_TIMEOUT_S)
            record["echoed"] = answer == message
            record["received_bytes"] = len(answer)
    except ConnectionClosed as error:
        received = error.rcvd
        record["close_code"] = received.code if received else None
        record["close_reason"] = (received.reason if received else "")[:200]
        record["problem"] = "closed by the server" if received else "dropped without a close frame"
    except TimeoutError:
        record["problem"] = f"no echo within {ECHO_TIMEOUT_S:g} s"
    except (InvalidHandshake, OSError) as error:
        record["problem"] = f"{type(error).__name__}: {error}"[:300]
    record["elapsed_s"] = round(time.monotonic() - began, 3)
    return record


def _sized(context: CheckContext, size: int) -> dict[str, Any]:
    with MemoryWatch(context.shared.process.tree_pids()) as memory:
        record = asyncio.run(_echo(websocket_url(context), size))
        time.sleep(2 * MemoryWatch.SAMPLE_EVERY_S)
    record["memory_growth_bytes"] = memory.growth_bytes
    return record


# --- the idle connection, on a raw socket: the client libraries answer pings out of sight ---


def _frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (RFC 6455 5.2); control payloads are under 126 bytes."""
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


def _read_frame(sock: socket.socket, buffer: bytearray) -> tuple[int, bytes] | None:
    """One server frame (unmasked) from ``buffer``, reading more as needed; None at the end."""
    while True:
        if len(buffer) >= 2:
            length, start = buffer[1] & 0x7F, 2
            if length == 126 and len(buffer) >= 4:
                length, start = struct.unpack("!H", buffer[2:4])[0], 4
            elif length == 127 and len(buffer) >= 10:
                length, start = struct.unpack("!Q", buffer[2:10])[0], 10
            # A 126/127 length whose extended bytes have not all arrived yet reads more first.
            if (length < 126 or start > 2) and len(buffer) >= start + length:
                opcode, payload = buffer[0] & 0x0F, bytes(buffer[start : start + length])
                del buffer[: start + length]
                return opcode, payload
        data = sock.recv(65536)
        if not data:
            return None
        buffer += data


def idle_watch(context: CheckContext) -> dict[str, Any]:
    """Open a WebSocket, send nothing, and note every ping (answered) and the end."""
    target = address(context)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {websocket_path(context)} HTTP/1.1\r\nHost: {target.host_header}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    record: dict[str, Any] = {"pings_at_s": [], "closed_at_s": None, "close_code": None}
    began = time.monotonic()
    with socket.create_connection((target.host, target.port), timeout=5) as sock:
        sock.sendall(request)
        buffer = bytearray()
        while b"\r\n\r\n" not in buffer:
            data = sock.recv(65536)
            if not data:
                record["problem"] = "closed during the handshake"
                return record
            buffer += data
        head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
        record["handshake_status"] = head.split(b" ", 2)[1].decode("latin-1")
        buffer = bytearray(rest)
        while (left := IDLE_WATCH_S - (time.monotonic() - began)) > 0:
            sock.settimeout(left)
            try:
                frame = _read_frame(sock, buffer)
            except TimeoutError:
                break
            except OSError:
                frame = None
            at_s = round(time.monotonic() - began, 2)
            if frame is None:
                record["closed_at_s"] = at_s
                break
            opcode, payload = frame
            if opcode == 0x9:
                record["pings_at_s"].append(at_s)
                sock.sendall(_frame(0xA, payload))
            elif opcode == 0x8:
                record["closed_at_s"] = at_s
                record["close_code"] = struct.unpack("!H", payload[:2])[0] if payload else None
                break
    return record


def _idle_phrase(idle: dict[str, Any]) -> str:
    pings = idle["pings_at_s"]
    said = (
        f"pinged an idle connection every {pings[1] - pings[0]:.0f} s"
        if len(pings) > 1
        else f"pinged an idle connection after {pings[0]:.0f} s"
        if pings
        else f"sent no ping in {IDLE_WATCH_S:g} s of idleness"
    )
    if idle["closed_at_s"] is not None:
        said += f" and closed it after {idle['closed_at_s']:.0f} s"
    return said


def _size_phrase(record: dict[str, Any]) -> str:
    size = f"{record['sent_bytes'] // MIB} MiB"
    grew = f"memory +{record['memory_growth_bytes'] / MIB:.0f} MiB"
    if record["echoed"]:
        return f"{size} echoed ({grew})"
    code = f"close code {record['close_code']}" if record["close_code"] else record.get("problem")
    return f"{size} refused: {code} ({grew})"


def judge(large: dict[str, Any], huge: dict[str, Any], idle: dict[str, Any]) -> tuple[str, str]:
    said = f"{_size_phrase(large)}; {_size_phrase(huge)}; the server {_idle_phrase(idle)}."
    if huge["echoed"]:
        return "no", f"No message limit: {said}"
    if huge["close_code"] != MESSAGE_TOO_BIG:
        return "partial", f"Huge messages are refused, but not with {MESSAGE_TOO_BIG}: {said}"
    if not large["echoed"]:
        return "partial", f"The limit also refuses a {LARGE_BYTES // MIB} MiB message: {said}"
    return "yes", f"Messages are bounded: {said}"


def run(context: CheckContext) -> Finding:
    if (not_applicable := without_websockets(context)) is not None:
        return not_applicable
    large = _sized(context, LARGE_BYTES)
    huge = _sized(context, HUGE_BYTES)
    idle = idle_watch(context)
    outcome, summary = judge(large, huge, idle)
    evidence = {"instance": context.shared.describe(), "large": large, "huge": huge, "idle": idle}
    return Finding(outcome, summary, evidence)


CHECKS = [
    Check(
        id="websocket-limits",
        title="WebSocket message limits and pings",
        group=GROUP,
        question=(
            "Does the server refuse a huge WebSocket message (close 1009) while passing large "
            "ones, and does it ping idle connections?"
        ),
        thresholds=THRESHOLDS,
        run=run,
    ),
]
