"""An HTTP/1.1 client that sends exact bytes: the hazard checks need requests no well-behaved
client library will write (two Content-Lengths, a bare LF, a NUL in a header), and to see
everything the server sends back, in order, including a second response nobody asked for.

Responses are parsed just enough to split them: status line, headers, and a body framed by
Content-Length, chunked encoding or the connection's end. A response from the sample project's
echo views carries what Django received (``echo``)."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

MAX_KEPT_BYTES = 256 * 1024  # more than any response the checks expect, bounded on purpose
READ_SIZE = 64 * 1024


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    @classmethod
    def of(cls, base_url: str) -> Address:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"raw HTTP checks need a plain http://host:port URL, not {base_url!r}")
        return cls(parts.hostname, parts.port)

    @property
    def host_header(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class Response:
    status: int | None
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    complete: bool  # the whole body arrived as framed

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)

    @property
    def echo(self) -> dict[str, Any] | None:
        """What Django received, when this is an answer of the sample project's echo views."""
        if not self.complete or not (self.header("content-type") or "").startswith(
            "application/json"
        ):
            return None
        try:
            document = json.loads(self.body)
        except ValueError:
            return None
        return document if isinstance(document, dict) and document.get("echo") is True else None

    def as_record(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason[:100],
            "headers": [[key[:100], value[:300]] for key, value in self.headers[:30]],
            "body_bytes": len(self.body),
            "complete": self.complete,
            "echo": self.echo,
            **({} if self.echo else {"body_head": escaped(self.body[:300])}),
        }


@dataclass
class Exchange:
    """Everything that happened on one connection after the request bytes were sent."""

    received: bytes = b""
    ended: str = ""  # "closed" | "reset" | "idle" (nothing more within the idle time) | "limit"
    elapsed_s: float = 0.0
    error: str | None = None  # why the request could not even be sent
    first_byte_s: float | None = None  # when the first byte came, from the start of the read
    responses: list[Response] = field(default_factory=list)

    def as_record(self) -> dict[str, Any]:
        return {
            "ended": self.ended,
            "elapsed_s": round(self.elapsed_s, 3),
            "first_byte_s": None if self.first_byte_s is None else round(self.first_byte_s, 3),
            "error": self.error,
            "received_bytes": len(self.received),
            "received_head": escaped(self.received[:600]),
            "responses": [response.as_record() for response in self.responses],
        }


def escaped(data: bytes) -> str:
    """Bytes as readable text: printable ASCII as is, everything else as a Python escape
    (``\\r``, ``\\n``, ``\\x00``), so a reader sees exactly what went over the wire."""
    out = []
    for byte in data:
        char = chr(byte)
        if char == "\\":
            out.append("\\\\")
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append({"\r": "\\r", "\n": "\\n", "\t": "\\t"}.get(char, f"\\x{byte:02x}"))
    return "".join(out)


def connect(address: Address, timeout_s: float, source: str | None = None) -> socket.socket:
    """A TCP connection to the server; ``source`` picks the client's loopback address (for
    example 127.0.0.2, a peer that is not the usual 127.0.0.1)."""
    return socket.create_connection(
        (address.host, address.port),
        timeout=timeout_s,
        source_address=(source, 0) if source else None,
    )


def read_until_quiet(
    sock: socket.socket,
    idle_s: float,
    limit_s: float,
    exchange: Exchange,
    began: float,
    stop_at: bytes | None = None,
) -> None:
    """Read until the server closes, resets, says nothing for ``idle_s``, ``limit_s`` has
    passed since ``began``, or (with ``stop_at``) what was received contains ``stop_at``."""
    while True:
        if stop_at is not None and stop_at in exchange.received:
            exchange.ended = "stop"
            return
        left = limit_s - (time.monotonic() - began)
        if left <= 0:
            exchange.ended = "limit"
            return
        sock.settimeout(min(idle_s, left))
        try:
            data = sock.recv(READ_SIZE)
        except TimeoutError:
            exchange.ended = "idle" if left > idle_s else "limit"
            return
        except ConnectionError:
            exchange.ended = "reset"
            return
        if not data:
            exchange.ended = "closed"
            return
        if exchange.first_byte_s is None:
            exchange.first_byte_s = time.monotonic() - began
        if len(exchange.received) < MAX_KEPT_BYTES:
            exchange.received += data[: MAX_KEPT_BYTES - len(exchange.received)]


def exchange(
    address: Address,
    request: bytes,
    *,
    idle_s: float = 1.0,
    limit_s: float = 5.0,
    source: str | None = None,
    head: bool = False,
) -> Exchange:
    """Send ``request`` on a new connection and collect what comes back. ``head``: the first
    response answers a HEAD request (it has headers only, whatever they announce)."""
    result = Exchange()
    began = time.monotonic()
    try:
        sock = connect(address, limit_s, source)
    except OSError as error:
        result.error = f"could not connect: {type(error).__name__}: {error}"[:300]
        return result
    with sock:
        try:
            sock.sendall(request)
        except ConnectionError as error:
            # The server may answer and close before reading everything; read what it said.
            result.error = f"sending stopped: {type(error).__name__}"
        read_until_quiet(sock, idle_s, limit_s, result, began)
    result.elapsed_s = time.monotonic() - began
    result.responses = parse_responses(result.received, head_first=head)
    return result


# --- parsing what came back ------------------------------------------------------------------


def _split_head(data: bytes) -> tuple[bytes, bytes] | None:
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    return data[:end], data[end + 4 :]


def _dechunk(data: bytes) -> tuple[bytes, bytes, bool]:
    """(body, what follows it, complete) of a chunked body at the start of ``data``."""
    body = b""
    while True:
        line_end = data.find(b"\r\n")
        if line_end < 0:
            return body, b"", False
        size_text = data[:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return body, b"", False
        data = data[line_end + 2 :]
        if size == 0:
            trailer_end = data.find(b"\r\n") if data.startswith(b"\r\n") else data.find(b"\r\n\r\n")
            if trailer_end < 0:
                return body, b"", False
            skip = 2 if data.startswith(b"\r\n") else trailer_end + 4
            return body, data[skip:], True
        if len(data) < size + 2:
            return body + data[:size], b"", False
        body += data[:size]
        data = data[size + 2 :]


def _parse_one(data: bytes, head: bool) -> tuple[Response, bytes] | None:
    split = _split_head(data)
    if split is None:
        return None
    head_bytes, rest = split
    lines = head_bytes.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        status = None
    reason = parts[2] if len(parts) > 2 else ""
    headers = [
        (name.strip(), value.strip())
        for name, _, value in (line.partition(":") for line in lines[1:])
    ]
    response = Response(status, reason, headers, b"", True)
    if head or status is None or status < 200 or status in (204, 304):
        return response, rest
    if (response.header("transfer-encoding") or "").lower().endswith("chunked"):
        response.body, rest, response.complete = _dechunk(rest)
        return response, rest
    length = response.header("content-length")
    if length is not None and length.isdigit():
        size = int(length)
        response.body, response.complete = rest[:size], len(rest) >= size
        return response, rest[size:]
    response.body = rest  # framed by the connection's end
    return response, b""


def parse_responses(data: bytes, head_first: bool = False) -> list[Response]:
    """Every response in ``data``, in order; an unparseable remainder is left out (it is in
    the exchange's ``received_head``)."""
    responses = []
    head = head_first
    while data.startswith(b"HTTP/"):
        parsed = _parse_one(data, head)
        if parsed is None:
            break
        response, data = parsed
        responses.append(response)
        if response.status is None or response.status >= 200:
            head = False  # only the final answer to the HEAD request has no body
    return responses
