"""The body-limit check: a request body far larger than any form: does the server refuse it,
stream it to Django, or hold it in its own memory first?"""

from __future__ import annotations

import time
from typing import Any

from harness.checks import Check, CheckContext, Finding
from harness.checks.hazards._shared import GROUP, address
from harness.checks.hazards.memory import MemoryWatch
from harness.checks.hazards.raw_http import (
    Address,
    Exchange,
    connect,
    parse_responses,
    read_until_quiet,
)

MIB = 1024 * 1024
DECLARED_BYTES = 10 * 1024 * MIB  # announced, never sent: does the server refuse up front?
DECLARED_SENT_BYTES = MIB
DECLARED_WAIT_S = 3.0
STREAMED_BYTES = 256 * MIB  # sent for real, with its Content-Length (an upload)
PIECE = b"x" * MIB
STREAM_LIMIT_S = 60.0
SEND_TIMEOUT_S = 10.0  # a server that stops reading without closing
BUFFERED_FRACTION = 0.5  # the server's memory grew by half the body or more: it held it

THRESHOLDS = (
    f"Two POSTs to /echo/count, which reads the body in 64 KiB pieces and keeps only its size. "
    f"First, Content-Length {DECLARED_BYTES // MIB // 1024} GiB with {DECLARED_SENT_BYTES // MIB} "
    f"MiB sent: is it refused before the body arrives (within {DECLARED_WAIT_S:g} s)? Second, "
    f"{STREAMED_BYTES // MIB} MiB with its Content-Length, as fast as the server reads, while "
    "the resident memory of the server's processes is sampled every "
    f"{MemoryWatch.SAMPLE_EVERY_S * 1000:.0f} ms. Outcome: yes = "
    "the body is refused up front, or streamed with the server's memory growing less than "
    f"{BUFFERED_FRACTION:.0%} of the body; no = the memory grew by {BUFFERED_FRACTION:.0%} of "
    "the body or more (the server holds bodies in memory)."
)


def _head(target: Address, *fields: str) -> bytes:
    lines = "".join(f"{field}\r\n" for field in fields)
    return (
        f"POST /echo/count HTTP/1.1\r\nHost: {target.host_header}\r\n{lines}"
        "Connection: close\r\n\r\n"
    ).encode()


def declared(target: Address) -> dict[str, Any]:
    """Announce a 10 GiB body, send 1 MiB of it, and see whether the server answers at once."""
    result = Exchange()
    began = time.monotonic()
    with connect(target, DECLARED_WAIT_S) as sock:
        try:
            sock.sendall(_head(target, f"Content-Length: {DECLARED_BYTES}"))
            sock.sendall(PIECE[:DECLARED_SENT_BYTES])
        except (ConnectionError, TimeoutError) as error:
            result.error = f"sending stopped: {type(error).__name__}"
        read_until_quiet(sock, DECLARED_WAIT_S, DECLARED_WAIT_S, result, began)
    result.elapsed_s = time.monotonic() - began
    result.responses = parse_responses(result.received)
    status = result.responses[0].status if result.responses else None
    return {"refused_status": status, **result.as_record()}


def streamed(target: Address, pids: set[int]) -> dict[str, Any]:
    """Send 256 MiB while watching the server's memory; then read its answer."""
    result = Exchange()
    sent = 0
    began = time.monotonic()
    with MemoryWatch(pids) as memory, connect(target, SEND_TIMEOUT_S) as sock:
        try:
            sock.sendall(_head(target, f"Content-Length: {STREAMED_BYTES}"))
            while sent < STREAMED_BYTES and time.monotonic() - began < STREAM_LIMIT_S:
                sock.sendall(PIECE)
                sent += len(PIECE)
        except (ConnectionError, TimeoutError) as error:
            result.error = f"sending stopped after {sent // MIB} MiB: {type(error).__name__}"
        send_s = time.monotonic() - began
        read_until_quiet(sock, 10.0, 10.0, result, time.monotonic())
        time.sleep(2 * MemoryWatch.SAMPLE_EVERY_S)  # one more sample after the answer
    result.elapsed_s = time.monotonic() - began
    result.responses = parse_responses(result.received)
    response = result.responses[0] if result.responses else None
    return {
        "sent_bytes": sent,
        "send_s": round(send_s, 3),
        "status": response.status if response else None,
        "django_read_bytes": response.echo.get("body_bytes")
        if response and response.echo
        else None,
        "memory_start_bytes": memory.start_bytes,
        "memory_peak_bytes": memory.peak_bytes,
        "memory_growth_bytes": memory.growth_bytes,
        **result.as_record(),
    }


def judge(first: dict[str, Any], second: dict[str, Any]) -> tuple[str, str]:
    refused = first["refused_status"]
    up_front = (
        f"a 10 GiB Content-Length was refused up front with HTTP {refused}"
        if refused and refused >= 400
        else "a 10 GiB Content-Length was not refused up front"
        + (f" (HTTP {refused})" if refused else f" (no answer in {DECLARED_WAIT_S:g} s)")
    )
    growth_mib = second["memory_growth_bytes"] / MIB
    sent_mib = second["sent_bytes"] / MIB
    read = second["django_read_bytes"]
    stream = (
        f"of {sent_mib:.0f} MiB sent, Django read "
        + (f"{read / MIB:.0f} MiB" if read is not None else "nothing (no echo answer)")
        + f" (HTTP {second['status']}) while the server's memory grew {growth_mib:.0f} MiB"
    )
    summary = f"{up_front[0].upper()}{up_front[1:]}; {stream}."
    if (
        second["sent_bytes"]
        and second["memory_growth_bytes"] >= BUFFERED_FRACTION * second["sent_bytes"]
    ):
        return "no", f"The server held the body in memory: {summary}"
    return "yes", summary


def run(context: CheckContext) -> Finding:
    target = address(context)
    first = declared(target)
    second = streamed(target, context.shared.process.tree_pids())
    outcome, summary = judge(first, second)
    evidence = {"instance": context.shared.describe(), "declared": first, "streamed": second}
    return Finding(outcome, summary, evidence)


CHECKS = [
    Check(
        id="body-limit",
        title="Huge request bodies",
        group=GROUP,
        question=(
            "Is a huge request body refused, or streamed to Django, rather than held in the "
            "server's memory?"
        ),
        thresholds=THRESHOLDS,
        run=run,
    ),
]
