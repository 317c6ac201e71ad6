"""A client that uploads one large file as a form does (multipart/form-data with a
Content-Length), made piece by piece as it is sent, so that the harness never holds more
than one piece: what a browser does with a file input.

It writes to a raw socket so that it knows when its last byte went out and when the first
byte of the answer came back."""

from __future__ import annotations

import hashlib
import socket
import time
from dataclasses import dataclass
from typing import Any

from harness.checks.hazards.raw_http import Address, Response, connect, parse_responses

PIECE_BYTES = 1024 * 1024
# Every byte value in turn: the multipart boundary, which starts with CR LF "--", never occurs
# in it (consecutive bytes always differ by one).
PIECE = bytes(range(256)) * (PIECE_BYTES // 256)
BOUNDARY = "serving-django-upload-0123456789"
FIELD = "file"  # the field the sample project's upload view reads
FILENAME = "large.bin"
SEND_TIMEOUT_S = 60.0  # a server that stops reading without answering
READ_SIZE = 64 * 1024
MAX_ANSWER_BYTES = 64 * 1024


def body_parts() -> tuple[bytes, bytes]:
    """What goes before and after the file's bytes in the multipart body."""
    before = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="{FIELD}"; filename="{FILENAME}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode("ascii")
    after = f"\r\n--{BOUNDARY}--\r\n".encode("ascii")
    return before, after


def pieces(size: int) -> Any:
    """The file's bytes, ``PIECE_BYTES`` at a time (the last one shorter)."""
    whole, rest = divmod(size, PIECE_BYTES)
    for _ in range(whole):
        yield PIECE
    if rest:
        yield PIECE[:rest]


@dataclass
class Upload:
    """What one upload did, in the client's clock (``time.time()``, comparable with the view's
    own times on the same machine)."""

    size: int
    sha256: str = ""
    sent_bytes: int = 0
    first_byte_at: float | None = None
    last_byte_at: float | None = None  # None: the body was not sent whole
    answered_at: float | None = None  # the first byte of the answer
    send_error: str | None = None
    answer: Response | None = None
    ended: str = ""

    def as_record(self) -> dict[str, Any]:
        answer = self.answer
        return {
            "size_bytes": self.size,
            "sent_bytes": self.sent_bytes,
            "sha256": self.sha256,
            "send_error": self.send_error,
            "ended": self.ended,
            "status": answer.status if answer else None,
            "answer_head": answer.body[:500].decode("latin-1") if answer else None,
        }


def upload(address: Address, path: str, size: int, limit_s: float) -> Upload:
    """POST a ``size``-byte file to ``path`` and read the answer, within ``limit_s``."""
    before, after = body_parts()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {address.host_header}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(before) + size + len(after)}\r\nConnection: close\r\n\r\n"
    ).encode("ascii")
    result = Upload(size)
    digest = hashlib.sha256()
    began = time.monotonic()
    with connect(address, SEND_TIMEOUT_S) as sock:
        try:
            result.first_byte_at = time.time()
            sock.sendall(head + before)
            for piece in pieces(size):
                sock.sendall(piece)
                digest.update(piece)
                result.sent_bytes += len(piece)
            sock.sendall(after)
            result.last_byte_at = time.time()
        except OSError as error:  # a reset, a closed pipe, or a server that stopped reading
            result.send_error = f"after {result.sent_bytes:,} bytes: {type(error).__name__}"
        result.sha256 = digest.hexdigest()
        _read_answer(sock, result, began + limit_s)
    return result


def _read_answer(sock: socket.socket, result: Upload, deadline: float) -> None:
    """Read until one whole response has come, the server closes, or the deadline."""
    received = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            result.ended = "limit"
            break
        sock.settimeout(left)
        try:
            data = sock.recv(READ_SIZE)
        except TimeoutError:
            result.ended = "limit"
            break
        except OSError:
            result.ended = "reset"
            break
        if not data:
            result.ended = "closed"
            break
        if result.answered_at is None:
            result.answered_at = time.time()
        received = (received + data)[:MAX_ANSWER_BYTES]
        responses = parse_responses(received)
        if responses and responses[0].complete and (responses[0].status or 0) >= 200:
            result.ended = "answered"
            break
    responses = parse_responses(received)
    result.answer = next((r for r in responses if (r.status or 0) >= 200), None)
