"""The request-smuggling corpus: ambiguous or malformed request framings, each with what RFC
9110/9112 requires of a server that receives it.

Most inputs carry a second request inside what one reading of the framing calls the body; a
server that reads the framing the other way answers that second request too, and Django's echo
view reports it (its query string says ``smuggled=1``). That is request smuggling: a proxy in
front that reads the framing the first way forwards one request, the server runs two.

Each input also declares its risk, with the RFC section that decides it: DESYNC when the input
decides where the message ends, so that a server reading it otherwise than the RFC can be made
to disagree with a proxy in front about where the next request starts; LENIENT when it cannot
move the message's end (a field's contents, line ends, Host), whatever the server does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evidence.echo import chunked_body_withheld
from evidence.vocabulary import FRAMING_RISKS

SMUGGLED_MARK = "smuggled=1"
ECHO_PATH = "/echo"

# What the spec lets a server do with an input.
REJECT = "reject"  # the spec says the server MUST answer 400 (or close)
REJECT_OR_ACCEPT = "reject-or-accept"  # either is allowed; an accepted request must be read right

# What a proxy in front could be made to do when a server departs from the RFC on an input
# (evidence.vocabulary.FRAMING_RISKS): DESYNC where the input decides where the message ends,
# LENIENT where it cannot move the end (a field's contents, line ends, Host).
DESYNC, LENIENT = FRAMING_RISKS

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
    # DESYNC or LENIENT, and why, with the RFC section: what a server that reads this input
    # otherwise than the RFC lets a proxy in front be made to do.
    risk: str = field(kw_only=True)
    risk_reason: str = field(kw_only=True)

    def __post_init__(self) -> None:
        if self.risk not in FRAMING_RISKS or not isinstance(self.risk_reason, str):
            raise ValueError(
                f"corpus case {self.id}: risk must be one of {FRAMING_RISKS}, with a reason"
            )


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
    """A chunked body with a malformed size, and a request after it on a kept-alive connection:
    a server that reads the size as a number of its own (5, 16, a wrapped 5) or stops at the
    first bad digit ends the body before the request, and runs it."""

    def request(host: str) -> bytes:
        body = size_line.encode() + b"\r\n" + data + b"\r\n0\r\n\r\n"
        return _head(host, "Transfer-Encoding: chunked") + body + smuggled_request(host)

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
        risk=DESYNC,
        risk_reason=(
            "Framing. A server that takes the Content-Length over Transfer-Encoding ends the "
            "message after the hidden request, where a proxy that follows RFC 9112 6.1 (read the "
            "chunked body) ends it before: TE.CL. A server that reads it chunked but keeps the "
            "connection open only misses the MUST close of 6.1: a proxy that follows the RFC "
            "removes the Content-Length before it forwards (6.1), so it ends the message where "
            "the server does."
        ),
    ),
    Case(
        "te-and-short-cl",
        "Transfer-Encoding: chunked with a Content-Length that ends inside the chunk",
        REJECT_OR_ACCEPT,
        _RFC_CL_TE,
        _te_and_short_cl,
        lambda echo: _body_is_the_inner_request(echo) or chunked_body_withheld(echo),
        "one request whose body is the whole chunk",
        risk=DESYNC,
        risk_reason=(
            "Framing. A server that takes the Content-Length ends the message inside the chunk, a "
            "proxy that follows RFC 9112 6.1 at the chunked body's end; the rest of the chunk is "
            "a request to the server alone: TE.CL."
        ),
    ),
    Case(
        "two-content-lengths",
        "Two Content-Length fields with different values (0, then the length of a request)",
        REJECT,
        "RFC 9110 8.6 / 9112 6.3: differing Content-Length values are an unrecoverable "
        "framing error: 400 and close.",
        _two_content_lengths,
        risk=DESYNC,
        risk_reason=(
            "Framing. RFC 9112 6.3 gives this message no length; a server that takes one of the "
            "values ends it where a proxy that takes the other does not: CL.CL."
        ),
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
        risk=DESYNC,
        risk_reason=(
            "Framing. RFC 9110 8.6 lets a recipient read the list as 5; a server that reads "
            "another length ends the message elsewhere than a proxy that reads 5."
        ),
    ),
    Case(
        "content-length-plus",
        "Content-Length: +5",
        REJECT,
        _RFC_CL_GRAMMAR,
        _content_length_text("+5", b"hello"),
        risk=DESYNC,
        risk_reason=(
            "Framing. RFC 9112 6.3 gives a message with an invalid Content-Length no length; a "
            "server that reads +5 as 5 ends it where a proxy that ignores the field, or refuses "
            "it, does not."
        ),
    ),
    Case(
        "content-length-underscore",
        "Content-Length: 1_0 (Python's int() reads it as 10)",
        REJECT,
        _RFC_CL_GRAMMAR,
        _content_length_text("1_0", b"0123456789"),
        risk=DESYNC,
        risk_reason=(
            "Framing. RFC 9112 6.3 gives a message with an invalid Content-Length no length; a "
            "server that reads 1_0 as 10 ends it where a proxy that reads 1, or ignores the "
            "field, does not."
        ),
    ),
    Case(
        "unknown-coding",
        "Transfer-Encoding: xchunked with a Content-Length covering a second request",
        REJECT,
        "RFC 9112 6.3: a request whose Transfer-Encoding does not end in chunked cannot be "
        "framed; the server MUST respond 400 and close.",
        _unknown_coding,
        risk=DESYNC,
        risk_reason=(
            "Framing. RFC 9112 6.3 gives a request whose Transfer-Encoding does not end in "
            "chunked no length; a server that falls back to the Content-Length ends the message "
            "where a proxy that reads the coding as chunked does not (an obfuscated Transfer- "
            "Encoding)."
        ),
    ),
    Case(
        "space-before-colon",
        "Transfer-Encoding : chunked (a space before the colon) with a Content-Length",
        REJECT,
        "RFC 9112 5.1: a server MUST reject, with 400, a request with whitespace between a "
        "field name and its colon.",
        _space_before_colon,
        risk=DESYNC,
        risk_reason=(
            "Framing. The field is Transfer-Encoding: a server that ignores the malformed name "
            "frames by the Content-Length, a proxy that trims it frames by chunked, and the "
            "reverse (RFC 9112 5.1 has both reject it)."
        ),
    ),
    Case(
        "chunk-size-0x",
        "A chunk size written 0x5",
        REJECT,
        _RFC_CHUNK_GRAMMAR,
        _chunk_size("0x5", b"hello"),
        risk=DESYNC,
        risk_reason=(
            "Framing. The chunk size is where the chunk ends (RFC 9112 7.1): a server that reads "
            "0x5 as 5 ends the body where a proxy that reads 0, the digit before the x, does not."
        ),
    ),
    Case(
        "chunk-size-underscore",
        "A chunk size written 1_0 (Python's int(..., 16) reads it as 16)",
        REJECT,
        _RFC_CHUNK_GRAMMAR,
        _chunk_size("1_0", b"0123456789abcdef"),
        risk=DESYNC,
        risk_reason=(
            "Framing. The chunk size is where the chunk ends (RFC 9112 7.1): a server that reads "
            "1_0 as 16 ends the body where a proxy that reads 1 does not."
        ),
    ),
    Case(
        "chunk-size-overflow",
        "A chunk size of 2^64 + 5 (a 64-bit counter wraps it to 5)",
        REJECT,
        _RFC_CHUNK_GRAMMAR + " A size this large cannot be honoured either.",
        _chunk_size("10000000000000005", b"hello"),
        risk=DESYNC,
        risk_reason=(
            "Framing. A server whose counter wraps the size to 5 ends the chunk 2^64 bytes before "
            "a proxy that reads the number (RFC 9112 7.1: recipients MUST prevent integer "
            "overflow). A server that waits for the announced bytes reads the size as written: no "
            "answer is lenient, not a desync."
        ),
    ),
    Case(
        "uppercase-chunked",
        "Transfer-Encoding: CHUNKED (coding names are case-insensitive)",
        REJECT_OR_ACCEPT,
        "RFC 9112 7: transfer-coding names are case-insensitive, so this is a valid chunked body.",
        _uppercase_chunked,
        _chunked_body_is(b"hello"),
        "one request with the 5-byte body",
        risk=DESYNC,
        risk_reason=(
            "Framing. The coding decides where the body ends: a server that does not read CHUNKED "
            "as chunked (RFC 9112 7: coding names are case-insensitive) frames the body otherwise "
            "than a proxy that does."
        ),
    ),
    Case(
        "bare-lf",
        "Request and header lines ended by a bare LF",
        REJECT_OR_ACCEPT,
        "RFC 9112 2.2: a recipient MAY recognise a single LF as a line terminator.",
        _bare_lf,
        _header_is("HTTP_X_PROBE", "lf"),
        "X-Probe: lf",
        risk=LENIENT,
        risk_reason=(
            "Line ends. Every line ends in a bare LF, so none can hide inside another: a server "
            "either reads the request as sent (RFC 9112 2.2 allows it) or waits for a CRLF that "
            "never comes; the message has no body and ends at its blank line or not at all."
        ),
    ),
    Case(
        "bare-cr",
        "A header value with a bare CR inside (X-Probe: a\\rb)",
        REJECT_OR_ACCEPT,
        "RFC 9112 2.2: a bare CR outside the body MUST be treated as invalid or replaced by SP.",
        _with_header_bytes(b"X-Probe: a\rb"),
        _header_is("HTTP_X_PROBE", "a b"),
        "X-Probe: a b",
        risk=LENIENT,
        risk_reason=(
            "A field's contents. The CR sits inside X-Probe's value and nothing after it names a "
            "framing field, so whatever the server does with it (reject it or replace it with SP, "
            "as RFC 9112 2.2 says, pass it to Django, or end the line there) the message ends at "
            "the blank line for server and proxy alike. A server that ends a line at a bare CR "
            "would read a framing field hidden after one; this input hides none."
        ),
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
        risk=LENIENT,
        risk_reason=(
            "A field's contents. The folded field is X-Probe, not a framing field, and the "
            "message has no body; a server that keeps the fold (RFC 9112 5.2 says reject or "
            "replace with SP) passes Django another value, and the message ends at the blank line "
            "either way."
        ),
    ),
    Case(
        "nul-in-value",
        "A NUL byte inside a header value (X-Probe: a\\x00b)",
        REJECT_OR_ACCEPT,
        _RFC_FIELD_VALUE,
        _with_header_bytes(b"X-Probe: a\x00b"),
        _header_is("HTTP_X_PROBE", "a b"),
        "X-Probe: a b",
        risk=LENIENT,
        risk_reason=(
            "A field's contents. The NUL sits inside X-Probe's value; passing it to Django (RFC "
            "9110 5.5 says reject or replace with SP) hands the application a byte it may "
            "mishandle, but the message ends at the blank line for server and proxy alike."
        ),
    ),
    Case(
        "control-in-name",
        "A control byte inside a header name (X-Pro\\x01be: a)",
        REJECT,
        "RFC 9110 5.1: a field name is a token; a request with an invalid one is malformed "
        "(RFC 9112 2.2: respond 400).",
        _with_header_bytes(b"X-Pro\x01be: a"),
        risk=LENIENT,
        risk_reason=(
            "A field's name. The malformed name is not a framing field and the message has no "
            "body, so accepting it (RFC 9110 5.1, 9112 2.2 say 400) cannot move where the message "
            "ends."
        ),
    ),
    Case(
        "missing-host",
        "An HTTP/1.1 request without Host",
        REJECT,
        "RFC 9112 3.2: a server MUST respond 400 to an HTTP/1.1 request without Host.",
        _missing_host,
        risk=LENIENT,
        risk_reason=(
            "Routing. Without Host (RFC 9112 3.2 says 400) a server may route the request to a "
            "default site; the message has no body and ends at its blank line."
        ),
    ),
    Case(
        "two-hosts",
        "Two Host fields",
        REJECT,
        "RFC 9112 3.2: a server MUST respond 400 to a request with more than one Host.",
        _two_hosts,
        risk=LENIENT,
        risk_reason=(
            "Routing. With two Host fields (RFC 9112 3.2 says 400) server and proxy may route to "
            "different sites (host confusion, cache poisoning); the message has no body and ends "
            "at its blank line, so no request can hide in it."
        ),
    ),
]
