"""The request-smuggling corpus: ambiguous or malformed request framings, each with what RFC
9110/9112 requires of a server that receives it.

Most inputs carry a second request inside what one reading of the framing calls the body; a
server that reads the framing the other way answers that second request too, and Django's echo
view reports it (its query string says ``smuggled=1``). That is request smuggling: a proxy in
front that reads the framing the first way forwards one request, the server runs two."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SMUGGLED_MARK = "smuggled=1"
ECHO_PATH = "/echo"

# What the spec lets a server do with an input.
REJECT = "reject"  # the spec says the server MUST answer 400 (or close)
REJECT_OR_ACCEPT = "reject-or-accept"  # either is allowed; an accepted request must be read right

Expectation = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Case:
    id: str
    title: str
    spec: str  # REJECT or REJECT_OR_ACCEPT
    rule: str  # the requirement, with its RFC section
    request: Callable[[str], bytes]  # the bytes, given the Host header value
    expected: Expectation | None = None  # what Django must see when the server accepts
    expected_text: str = ""


def smuggled_request(host: str) -> bytes:
    return (
        f"GET {ECHO_PATH}?{SMUGGLED_MARK} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    ).encode()


def _head(host: str, *lines: str, method: str = "POST") -> bytes:
    fields = "".join(f"{line}\r\n" for line in lines)
    return f"{method} {ECHO_PATH} HTTP/1.1\r\nHost: {host}\r\n{fields}\r\n".encode()


def _body_is(expected: bytes) -> Expectation:
    return lambda echo: (
        echo.get("body_bytes") == len(expected)
        and echo.get("body_head") == expected[:200].decode("latin-1")
    )


def chunked_body_withheld(echo: dict[str, Any]) -> bool:
    """Django under WSGI reads a request body only up to CONTENT_LENGTH: a chunked body that
    the server passes without one reaches the view empty. That is Django's reading, not the
    server's, so a framing case does not hold it against the server (the expect-continue check
    reports it)."""
    headers = echo.get("headers", {})
    return (
        "HTTP_TRANSFER_ENCODING" in headers
        and "CONTENT_LENGTH" not in headers
        and echo.get("body_bytes") == 0
    )


def _chunked_body_is(expected: bytes) -> Expectation:
    body_is = _body_is(expected)
    return lambda echo: body_is(echo) or chunked_body_withheld(echo)


def _body_is_the_inner_request(echo: dict[str, Any]) -> bool:
    head = echo.get("body_head", "")
    return head.startswith(f"GET {ECHO_PATH}?{SMUGGLED_MARK} HTTP/1.1\r\n") and head.endswith(
        "\r\n\r\n"
    )


def _header_is(meta_name: str, *allowed: str) -> Expectation:
    return lambda echo: echo.get("headers", {}).get(meta_name) in allowed


def _cl_and_te(host: str) -> bytes:
    body = b"0\r\n\r\n" + smuggled_request(host)
    return _head(host, f"Content-Length: {len(body)}", "Transfer-Encoding: chunked") + body


def _te_and_short_cl(host: str) -> bytes:
    inner = smuggled_request(host)
    size_line = f"{len(inner):x}\r\n".encode()
    body = size_line + inner + b"\r\n0\r\n\r\n"
    return _head(host, "Transfer-Encoding: chunked", f"Content-Length: {len(size_line)}") + body


def _two_content_lengths(host: str) -> bytes:
    body = smuggled_request(host)
    return _head(host, "Content-Length: 0", f"Content-Length: {len(body)}") + body


def _content_length_list(host: str) -> bytes:
    return _head(host, "Content-Length: 5, 5", "Connection: close") + b"hello"


def _content_length_text(value: str, body: bytes) -> Callable[[str], bytes]:
    return lambda host: _head(host, f"Content-Length: {value}", "Connection: close") + body


def _unknown_coding(host: str) -> bytes:
    body = b"0\r\n\r\n" + smuggled_request(host)
    return _head(host, "Transfer-Encoding: xchunked", f"Content-Length: {len(body)}") + body


def _space_before_colon(host: str) -> bytes:
    body = b"0\r\n\r\n" + smuggled_request(host)
    return _head(host, "Transfer-Encoding : chunked", f"Content-Length: {len(body)}") + body


def _chunk_size(size_line: str, data: bytes) -> Callable[[str], bytes]:
    def request(host: str) -> bytes:
        body = size_line.encode() + b"\r\n" + data + b"\r\n0\r\n\r\n"
        return _head(host, "Transfer-Encoding: chunked", "Connection: close") + body

    return request


def _uppercase_chunked(host: str) -> bytes:
    return (
        _head(host, "Transfer-Encoding: CHUNKED", "Connection: close") + b"5\r\nhello\r\n0\r\n\r\n"
    )


def _bare_lf(host: str) -> bytes:
    return f"GET {ECHO_PATH} HTTP/1.1\nHost: {host}\nX-Probe: lf\nConnection: close\n\n".encode()


def _with_header_bytes(raw: bytes) -> Callable[[str], bytes]:
    return lambda host: (
        f"GET {ECHO_PATH} HTTP/1.1\r\nHost: {host}\r\n".encode()
        + raw
        + b"\r\nConnection: close\r\n\r\n"
    )


def _missing_host(host: str) -> bytes:
    return f"GET {ECHO_PATH} HTTP/1.1\r\nConnection: close\r\n\r\n".encode()


def _two_hosts(host: str) -> bytes:
    return (
        f"GET {ECHO_PATH} HTTP/1.1\r\nHost: {host}\r\nHost: example.com\r\n"
        "Connection: close\r\n\r\n"
    ).encode()


_RFC_CL_TE = (
    "RFC 9112 6.1: Transfer-Encoding overrides Content-Length; the server MAY reject the "
    "request, and otherwise MUST read the chunked body and close the connection after "
    "responding."
)
_RFC_CL_GRAMMAR = (
    "RFC 9112 6.3: a Content-Length that is not a valid number (1*DIGIT) makes the framing "
    "invalid: the server MUST respond 400 and close."
)
_RFC_CHUNK_GRAMMAR = (
    "RFC 9112 7.1: chunk-size is 1*HEXDIG; anything else is an invalid chunked body, which "
    "the server MUST treat as unrecoverable (400 and close)."
)
_RFC_FIELD_VALUE = (
    "RFC 9110 5.5: a field value with CR, LF or NUL is invalid; the recipient MUST reject the "
    "message or replace each such character with SP before processing it."
)

CASES = [
    Case(
        "cl-and-te",
        "Content-Length and Transfer-Encoding: chunked; the length covers a second request",
        REJECT_OR_ACCEPT,
        _RFC_CL_TE,
        _cl_and_te,
        _chunked_body_is(b""),
        "one request with an empty body (the chunked reading), and no second request",
    ),
    Case(
        "te-and-short-cl",
        "Transfer-Encoding: chunked with a Content-Length that ends inside the chunk",
        REJECT_OR_ACCEPT,
        _RFC_CL_TE,
        _te_and_short_cl,
        lambda echo: _body_is_the_inner_request(echo) or chunked_body_withheld(echo),
        "one request whose body is the whole chunk",
    ),
    Case(
        "two-content-lengths",
        "Two Content-Length fields with different values (0, then the length of a request)",
        REJECT,
        "RFC 9110 8.6 / 9112 6.3: differing Content-Length values are an unrecoverable "
        "framing error: 400 and close.",
        _two_content_lengths,
    ),
    Case(
        "content-length-list",
        "Content-Length: 5, 5 (a list of one repeated value)",
        REJECT_OR_ACCEPT,
        "RFC 9110 8.6: a recipient MAY take a list of identical values as that value, or "
        "reject it as invalid.",
        _content_length_list,
        _body_is(b"hello"),
        "one request with the 5-byte body",
    ),
    Case(
        "content-length-plus",
        "Content-Length: +5",
        REJECT,
        _RFC_CL_GRAMMAR,
        _content_length_text("+5", b"hello"),
    ),
    Case(
        "content-length-underscore",
        "Content-Length: 1_0 (Python's int() reads it as 10)",
        REJECT,
        _RFC_CL_GRAMMAR,
        _content_length_text("1_0", b"0123456789"),
    ),
    Case(
        "unknown-coding",
        "Transfer-Encoding: xchunked with a Content-Length covering a second request",
        REJECT,
        "RFC 9112 6.3: a request whose Transfer-Encoding does not end in chunked cannot be "
        "framed; the server MUST respond 400 and close.",
        _unknown_coding,
    ),
    Case(
        "space-before-colon",
        "Transfer-Encoding : chunked (a space before the colon) with a Content-Length",
        REJECT,
        "RFC 9112 5.1: a server MUST reject, with 400, a request with whitespace between a "
        "field name and its colon.",
        _space_before_colon,
    ),
    Case(
        "chunk-size-0x",
        "A chunk size written 0x5",
        REJECT,
        _RFC_CHUNK_GRAMMAR,
        _chunk_size("0x5", b"hello"),
    ),
    Case(
        "chunk-size-underscore",
        "A chunk size written 1_0 (Python's int(..., 16) reads it as 16)",
        REJECT,
        _RFC_CHUNK_GRAMMAR,
        _chunk_size("1_0", b"0123456789abcdef"),
    ),
    Case(
        "chunk-size-overflow",
        "A chunk size of 2^64 + 5 (a 64-bit counter wraps it to 5)",
        REJECT,
        _RFC_CHUNK_GRAMMAR + " A size this large cannot be honoured either.",
        _chunk_size("10000000000000005", b"hello"),
    ),
    Case(
        "uppercase-chunked",
        "Transfer-Encoding: CHUNKED (coding names are case-insensitive)",
        REJECT_OR_ACCEPT,
        "RFC 9112 7: transfer-coding names are case-insensitive, so this is a valid chunked body.",
        _uppercase_chunked,
        _chunked_body_is(b"hello"),
        "one request with the 5-byte body",
    ),
    Case(
        "bare-lf",
        "Request and header lines ended by a bare LF",
        REJECT_OR_ACCEPT,
        "RFC 9112 2.2: a recipient MAY recognise a single LF as a line terminator.",
        _bare_lf,
        _header_is("HTTP_X_PROBE", "lf"),
        "X-Probe: lf",
    ),
    Case(
        "bare-cr",
        "A header value with a bare CR inside (X-Probe: a\\rb)",
        REJECT_OR_ACCEPT,
        "RFC 9112 2.2: a bare CR outside the body MUST be treated as invalid or replaced by SP.",
        _with_header_bytes(b"X-Probe: a\rb"),
        _header_is("HTTP_X_PROBE", "a b"),
        "X-Probe: a b",
    ),
    Case(
        "obs-fold",
        "A header folded onto a continuation line (X-Probe: a, CRLF, space, b)",
        REJECT_OR_ACCEPT,
        "RFC 9112 5.2: a server MUST reject a folded line with 400, or replace each fold with "
        "SP before interpreting the field.",
        _with_header_bytes(b"X-Probe: a\r\n b"),
        _header_is("HTTP_X_PROBE", "a b", "a  b"),
        "X-Probe: a b",
    ),
    Case(
        "nul-in-value",
        "A NUL byte inside a header value (X-Probe: a\\x00b)",
        REJECT_OR_ACCEPT,
        _RFC_FIELD_VALUE,
        _with_header_bytes(b"X-Probe: a\x00b"),
        _header_is("HTTP_X_PROBE", "a b"),
        "X-Probe: a b",
    ),
    Case(
        "control-in-name",
        "A control byte inside a header name (X-Pro\\x01be: a)",
        REJECT,
        "RFC 9110 5.1: a field name is a token; a request with an invalid one is malformed "
        "(RFC 9112 2.2: respond 400).",
        _with_header_bytes(b"X-Pro\x01be: a"),
    ),
    Case(
        "missing-host",
        "An HTTP/1.1 request without Host",
        REJECT,
        "RFC 9112 3.2: a server MUST respond 400 to an HTTP/1.1 request without Host.",
        _missing_host,
    ),
    Case(
        "two-hosts",
        "Two Host fields",
        REJECT,
        "RFC 9112 3.2: a server MUST respond 400 to a request with more than one Host.",
        _two_hosts,
    ),
]
