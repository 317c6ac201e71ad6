"""The expect-continue and chunked-request-body checks: does a request body sent the way real
clients send it (after 100 Continue; chunked, without a length) reach Django intact?"""

from __future__ import annotations

import time
from typing import Any

from harness.checks import Check, CheckContext, Finding
from harness.checks.hazards._shared import GROUP, address
from harness.checks.hazards.raw_http import (
    Exchange,
    connect,
    exchange,
    parse_responses,
    read_until_quiet,
)

BODY = b"hello, body"
CONTINUE_WAIT_S = 2.0  # curl waits 1 s for 100 Continue before sending the body anyway
LIMIT_S = 6.0

EXPECT_THRESHOLDS = (
    f"POST of a {len(BODY)}-byte body to the echo view with Expect: 100-continue: the client "
    f"sends the headers, waits up to {CONTINUE_WAIT_S:g} s for 100 Continue, then sends the "
    "body. Outcome: yes = 100 Continue arrived and Django got the body intact; partial = no 100 "
    "Continue (clients wait a timeout first), body intact; no = Django did not get the body."
)
CHUNKED_THRESHOLDS = (
    f"POST of a {len(BODY)}-byte body in two chunks (Transfer-Encoding: chunked, no "
    "Content-Length) to the echo view. Outcome: yes = Django got the body intact; no = it got "
    "an empty or different body, or the request was refused. A no is Django's own when, under "
    "WSGI, the request reached the view without a CONTENT_LENGTH and Django read no body: "
    "Django reads wsgi.input only up to CONTENT_LENGTH (0 when absent) and ignores "
    "wsgi.input_terminated, the flag with which a server says its input ends where the body "
    "does (the echo view records it)."
)
# Where Django decides it (read in the pinned Django's django/core/handlers/wsgi.py).
DJANGO_READS_CONTENT_LENGTH = (
    "Django's WSGIRequest reads wsgi.input through LimitedStream with CONTENT_LENGTH as its "
    "limit, 0 when the header is absent, and never looks at wsgi.input_terminated "
    "(django/core/handlers/wsgi.py)"
)


def _head(target_host: str, *fields: str) -> bytes:
    lines = "".join(f"{field}\r\n" for field in fields)
    return (
        f"POST /echo HTTP/1.1\r\nHost: {target_host}\r\n{lines}Connection: close\r\n\r\n".encode()
    )


def _expect_exchange(context: CheckContext) -> tuple[Exchange, float | None]:
    """The exchange, and when 100 Continue arrived (None: not within the wait)."""
    target = address(context)
    result = Exchange()
    began = time.monotonic()
    continue_at = None
    with connect(target, LIMIT_S) as sock:
        sock.sendall(
            _head(target.host_header, f"Content-Length: {len(BODY)}", "Expect: 100-continue")
        )
        read_until_quiet(sock, CONTINUE_WAIT_S, CONTINUE_WAIT_S, result, began, stop_at=b"\r\n\r\n")
        if result.received.startswith(b"HTTP/1.1 100"):
            continue_at = result.first_byte_s
        if result.ended not in ("closed", "reset"):
            try:
                sock.sendall(BODY)
            except ConnectionError as error:
                result.error = f"sending the body failed: {type(error).__name__}"
            read_until_quiet(sock, LIMIT_S, LIMIT_S, result, time.monotonic())
    result.elapsed_s = time.monotonic() - began
    result.responses = parse_responses(result.received)
    return result, continue_at


def _final_echo(result: Exchange) -> tuple[int | None, dict[str, Any] | None]:
    final = [response for response in result.responses if (response.status or 0) >= 200]
    if not final:
        return None, None
    return final[0].status, final[0].echo


def _body_intact(echo: dict[str, Any] | None) -> bool:
    return (
        bool(echo)
        and echo.get("body_head") == BODY.decode()
        and echo.get("body_bytes") == len(BODY)
    )


def run_expect(context: CheckContext) -> Finding:
    result, continue_at = _expect_exchange(context)
    status, echo = _final_echo(result)
    evidence = {
        "instance": context.shared.describe(),
        "continue_after_s": round(continue_at, 3) if continue_at is not None else None,
        **result.as_record(),
    }
    said = (
        f"100 Continue after {continue_at * 1000:.0f} ms"
        if continue_at is not None
        else f"no 100 Continue within {CONTINUE_WAIT_S:g} s"
    )
    if not _body_intact(echo):
        got = f"Django got {echo.get('body_bytes')} bytes" if echo else f"HTTP {status}"
        return Finding("no", f"The body did not reach Django intact ({said}; {got}).", evidence)
    if continue_at is None:
        return Finding("partial", f"Body intact, but {said}.", evidence)
    return Finding("yes", f"{said}; Django got the body intact.", evidence)


def chunked_cause(interface: str, echo: dict[str, Any] | None) -> tuple[str, str]:
    """(cause, detail) of a chunked body that did not reach Django intact: Django's when,
    under WSGI, the request reached the view without a CONTENT_LENGTH and no body was read,
    since Django then reads nothing whatever the server did with the chunks."""
    if interface != "wsgi" or echo is None or echo.get("body_bytes") != 0:
        return "server", ""
    if echo.get("headers", {}).get("CONTENT_LENGTH") is not None:
        return "server", ""  # the server set a length that hid the body: its own doing
    return "django", f"{DJANGO_READS_CONTENT_LENGTH}."


def _withheld_phrase(echo: dict[str, Any]) -> str:
    """Why Django read nothing, and what the server told the app about its input: the echo
    view's input_terminated (the server's wsgi.input_terminated, null when it set none) and,
    where it was set, input_left_bytes (what Django left unread in wsgi.input)."""
    said = (
        " Django's WSGI handler reads a body only up to CONTENT_LENGTH, which the server did "
        "not set."
    )
    if "input_terminated" not in echo:
        return said  # an echo view older than these fields
    marked, left = echo.get("input_terminated"), echo.get("input_left_bytes")
    if marked is True and left:
        return (
            f"{said} The server marked its input terminated (wsgi.input_terminated) and left "
            f"the {left} body bytes in it, unread."
        )
    if marked is True:
        return f"{said} The server marked its input terminated (wsgi.input_terminated)."
    return f"{said} The server did not mark its input terminated either."


def run_chunked(context: CheckContext) -> Finding:
    target = address(context)
    half = len(BODY) // 2
    chunks = f"{half:x}\r\n".encode() + BODY[:half] + b"\r\n"
    chunks += f"{len(BODY) - half:x}\r\n".encode() + BODY[half:] + b"\r\n0\r\n\r\n"
    request = _head(target.host_header, "Transfer-Encoding: chunked") + chunks
    result = exchange(target, request, idle_s=LIMIT_S, limit_s=LIMIT_S)
    status, echo = _final_echo(result)
    evidence = {"instance": context.shared.describe(), **result.as_record()}
    if _body_intact(echo):
        return Finding("yes", "Django got the chunked body intact.", evidence)
    if echo is None:
        return Finding("no", f"The chunked request was refused (HTTP {status}).", evidence)
    cause, detail = chunked_cause(context.server.interface, echo)
    why = _withheld_phrase(echo) if cause == "django" else ""
    return Finding(
        "no",
        f"Django got {echo.get('body_bytes')} of {len(BODY)} body bytes.{why}",
        evidence,
        cause,
        detail,
    )


CHECKS = [
    Check(
        id="expect-continue",
        title="Expect: 100-continue",
        group=GROUP,
        question=(
            "Does a client that sends Expect: 100-continue get 100 Continue, and does its body "
            "reach Django intact?"
        ),
        thresholds=EXPECT_THRESHOLDS,
        run=run_expect,
    ),
    Check(
        id="chunked-request-body",
        title="Chunked request bodies",
        group=GROUP,
        question=(
            "Does a request body sent chunked, without a Content-Length (as streaming clients "
            "send uploads), reach Django intact?"
        ),
        thresholds=CHUNKED_THRESHOLDS,
        run=run_chunked,
    ),
]
