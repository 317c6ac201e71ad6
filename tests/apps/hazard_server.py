"""A raw HTTP/1.1 server for testing the production-hazard checks (synthetic; not a measured
server):

    python hazard_server.py PORT MODE

It parses requests by hand, on sockets and threads only: ``http.server`` has a parser of its
own, which would hide the behaviours the checks look for. MODE is one of:

``naive``
    What a first attempt at an HTTP server does. One connection at a time, kept alive. The
    header block is whatever comes before a blank line, with no size limit and no deadline. The
    body is framed by the first Content-Length, read with ``int()`` (so ``+5`` and ``1_0`` pass),
    and read whole into memory; Transfer-Encoding is ignored, so the bytes of a chunked body
    are read as the next request. HEAD gets a body, Expect is ignored, X-Forwarded-For and
    X-Forwarded-Proto are believed from any peer, and an idle connection is never closed.
``cl0``
    Like ``naive``, but it reads no body at all, whatever Content-Length says: the body's bytes
    are read as the start of the next request on the connection (the "CL.0" desync). A proxy
    that forwards any request with a body leaves it there for the next client.
``strict``
    One thread per connection. Anything ambiguous or malformed is answered ``400 Bad Request``
    and the connection closed: two Content-Lengths, one that is not all digits, any
    Transfer-Encoding other than a single ``chunked`` or one beside a Content-Length,
    whitespace before a colon, control bytes in a field, folded lines, bare LF line ends, no
    Host or two. Chunk sizes are hex digits only (no extensions). A header block over 32 KiB
    is answered 431. ``Expect: 100-continue`` gets ``100 Continue`` before the body is read; HEAD
    gets the headers of GET; forwarded headers are ignored. A client gets 1 s to complete its
    headers, which also closes an idle kept-alive connection after 1 s. Bodies are streamed to
    the view in pieces, so memory stays flat.
``lenient``
    Like ``strict`` in everything that decides where a message ends (Content-Length grammar,
    one chunked coding, chunk sizes), and loose in everything that cannot move it: lines may end
    in a bare LF, a folded line is joined to the field before it with a space, field values
    keep their control bytes (CR, NUL), a field name may hold a control byte (not whitespace),
    Host may be missing or repeated. A request with Transfer-Encoding: chunked and a
    Content-Length is read chunked (RFC 9112 6.1), and the connection is kept open after it,
    against the RFC's "MUST close".
``tight``
    Like ``strict``, but the header block is bounded at 8 KiB, so a 16 KiB cookie is refused.
``closer``
    Like ``strict``, but an oversized header block is refused by closing the socket without a
    response.
``announce-close``
    Like ``strict``, but every response says ``Connection: close`` and the connection is then
    closed.
``wedge``
    Like ``strict``, but one request at a time taking WEDGE_SERVICE_S each (so its capacity is
    its own, about 200/s, whatever the machine: twice that always outgrows it), until more
    than 100 connections are open at once; from then on it never answers again, as a server
    whose workers deadlocked under load would.

With HAZARD_MOUNT=/app in its environment (any mode) it serves under that prefix, as a server's
root-path option does: ``/app/echo`` reaches the echo view with the script name ``/app``, and
paths outside the prefix are 404. ``/polls`` redirects to ``/polls/`` (APPEND_SLASH) under the
script name.

Paths: ``/echo`` and ``/echo/count`` answer what the sample project's echo views answer (the
request as Django would see it, headers under their META names); ``/json/sync`` answers
``{"message": "hello", "view": "sync"}`` (the launcher's readiness probe); anything else 404.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

PORT, MODE = int(sys.argv[1]), sys.argv[2]
READ_SIZE = 64 * 1024
# strict: the largest header block; above a 16 KiB cookie, below 64 KiB lines
HEADER_LIMIT = (8 if MODE == "tight" else 32) * 1024
HEADER_DEADLINE_S = 1.0  # strict: to complete a header block, and to keep an idle connection
BODY_TIMEOUT_S = 5.0  # strict: the longest wait for the next piece of a body
MOUNT = os.environ.get("HAZARD_MOUNT", "")  # the path prefix served under, as a root path
WEDGE_ABOVE = 100  # wedge: open connections beyond which it stops answering for good
OPEN_CONNECTIONS = [0]  # wedge: connections being served, under OPEN_LOCK
OPEN_LOCK = threading.Lock()
WEDGED = threading.Event()  # set once; a wedged server never answers again
WEDGE_SERVICE_S = 0.005  # wedge: each answer's time, one at a time under SERVICE_LOCK
SERVICE_LOCK = threading.Lock()
NEVER = threading.Event()
LINGER_S = 1.0  # after our last response, how long to read what the client still sends
BODY_HEAD_CHARS = 200
REASONS = {
    100: "Continue",
    200: "OK",
    301: "Moved Permanently",
    400: "Bad Request",
    404: "Not Found",
    431: "Request Header Fields Too Large",
}

TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 5.1: a field name is a token
BAD_VALUE_BYTE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # controls, CR, LF, NUL; HTAB is fine
BARE_LF = re.compile(rb"(?<!\r)\n")
LINE_END = re.compile(rb"\r?\n")  # lenient: a bare LF ends a line too
BLOCK_END = re.compile(rb"\r?\n\r?\n")
LOOSE_NAME = re.compile(rb"[^\s:]+")  # lenient: any bytes but whitespace and the colon
REQUEST_LINE = re.compile(rb"([A-Z]+) (\S+) HTTP/1\.[01]")
HEX_SIZE = re.compile(rb"[0-9A-Fa-f]{1,8}")  # at most 4 GiB a chunk: no wrapping counters


class BadRequest(Exception):
    def __init__(self, status: int = 400) -> None:
        super().__init__(status)
        self.status = status


class ClientGone(Exception):
    """The client closed, or went quiet in the middle of a body."""


@dataclass
class Request:
    method: str
    target: str
    headers: list[tuple[str, str]]

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name]

    def header(self, name: str) -> str | None:
        found = self.values(name)
        return found[0] if found else None

    @property
    def wants_close(self) -> bool:
        tokens = ",".join(self.values("connection")).lower().split(",")
        return "close" in (token.strip() for token in tokens)


class Connection:
    """A socket and what has been read from it but not used yet."""

    def __init__(self, sock: socket.socket, peer: str) -> None:
        self.sock, self.peer = sock, peer
        self.buffer = bytearray()

    def fill(self, timeout_s: float | None = None) -> None:
        self.sock.settimeout(timeout_s)
        try:
            data = self.sock.recv(READ_SIZE)
        except (TimeoutError, ConnectionError) as error:
            raise ClientGone from error
        if not data:
            raise ClientGone
        self.buffer += data

    def take(self, size: int) -> bytes:
        piece = bytes(self.buffer[:size])
        del self.buffer[:size]
        return piece

    def pieces(self, size: int, timeout_s: float | None) -> Iterator[bytes]:
        """The next ``size`` bytes, a piece at a time."""
        while size > 0:
            if not self.buffer:
                self.fill(timeout_s)
            piece = self.take(min(size, len(self.buffer), READ_SIZE))
            size -= len(piece)
            yield piece

    def line(self, limit: int = 1024) -> bytes:
        while (end := self.buffer.find(b"\r\n")) < 0:
            if len(self.buffer) > limit:
                raise BadRequest
            self.fill(BODY_TIMEOUT_S)
        line = self.take(end)
        del self.buffer[:2]
        return line

    def respond(
        self, status: int, body: bytes, *, close: bool, head: bool = False, location: str = ""
    ) -> None:
        lines = [
            f"HTTP/1.1 {status} {REASONS[status]}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            *([f"Location: {location}"] if location else []),
            *(["Connection: close"] if close else []),
        ]
        head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.sock.sendall(head_bytes if head else head_bytes + body)

    def linger_and_close(self) -> None:
        """Close after the last response. Read what the client still sends first: closing with
        unread bytes makes the kernel send a reset, which can destroy the response in flight."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER_S
            while (left := deadline - time.monotonic()) > 0:
                self.sock.settimeout(left)
                if not self.sock.recv(READ_SIZE):
                    break
        except OSError:
            pass
        self.sock.close()


# --- the views: what the sample project answers ----------------------------------------------


def meta_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    """Request headers under Django's META names; repeated fields joined with commas, as WSGI
    servers join them."""
    meta: dict[str, str] = {}
    for name, value in headers:
        key = name.upper().replace("-", "_")
        key = key if key in ("CONTENT_LENGTH", "CONTENT_TYPE") else f"HTTP_{key}"
        meta[key] = f"{meta[key]},{value}" if key in meta else value
    return {key: value for key, value in meta.items() if value or key.startswith("HTTP_")}


def echo(request: Request, body: Iterable[bytes], remote_addr: str, scheme: str) -> dict:
    total, digest, head = 0, hashlib.sha256(), b""
    for piece in body:
        total += len(piece)
        digest.update(piece)
        head += piece[: BODY_HEAD_CHARS - len(head)]
    document = {
        "echo": True,
        "method": request.method,
        "path": request.path,
        "path_info": request.path.removeprefix(MOUNT),
        "script_name": MOUNT,
        "reversed": f"{MOUNT}/echo",
        "query_string": request.query,
        "headers": meta_headers(request.headers),
        "remote_addr": remote_addr,
        "scheme": scheme,
        "is_secure": scheme == "https",
        "host": request.header("host") or f"127.0.0.1:{PORT}",
        "body_bytes": total,
        "body_sha256": digest.hexdigest(),
    }
    if request.path == "/echo":  # /echo/count keeps no head of the body
        document["body_head"] = head.decode("latin-1")
    return document


def answer(
    request: Request, body: Iterable[bytes], remote_addr: str, scheme: str
) -> tuple[int, bytes, str]:
    """(status, body, Location) for a request."""
    routed = request.path.removeprefix(MOUNT) if request.path.startswith(MOUNT) else None
    if routed in ("/echo", "/echo/count"):
        return 200, json.dumps(echo(request, body, remote_addr, scheme)).encode(), ""
    for _ in body:  # read a body nobody wants, so the next request starts where it should
        pass
    if routed == "/json/sync":
        return 200, json.dumps({"message": "hello", "view": "sync"}).encode(), ""
    if routed == "/polls":
        return 301, b"", f"{MOUNT}/polls/"
    return 404, json.dumps({"error": "not found"}).encode(), ""


# --- naive -----------------------------------------------------------------------------------


def naive_request(connection: Connection) -> Request:
    """Whatever comes before the first blank line (CRLF or LF), with no limit."""
    while (blank := re.search(rb"\r?\n\r?\n", connection.buffer)) is None:
        connection.fill()  # no deadline: a client may take as long as it likes
    lines = connection.take(blank.start()).decode("latin-1").split("\n")
    del connection.buffer[: blank.end() - blank.start()]
    parts = lines[0].strip().split(" ")
    if len(parts) != 3:
        raise BadRequest
    headers = [
        (name.strip(), value.strip())
        for name, colon, value in (line.rstrip("\r").partition(":") for line in lines[1:])
        if colon
    ]
    return Request(parts[0], parts[1], headers)


def serve_naive(sock: socket.socket, peer: str) -> None:
    connection = Connection(sock, peer)
    try:
        while True:
            request = naive_request(connection)
            # The first one, any int(); cl0 reads none.
            length = 0 if MODE == "cl0" else int(request.header("content-length") or 0)
            # All of it, in memory, and kept until the next request or the connection's end.
            body = b"".join(connection.pieces(max(length, 0), None))
            # Whoever sends these headers is believed, proxy or not.
            forwarded = request.header("x-forwarded-for")
            remote_addr = forwarded.split(",")[0].strip() if forwarded else peer
            scheme = request.header("x-forwarded-proto") or "http"
            status, payload, location = answer(request, [body], remote_addr, scheme)
            connection.respond(
                status, payload, close=request.wants_close, location=location
            )  # a body on HEAD too
            if request.wants_close:
                break
    except (BadRequest, ValueError):  # a request line it cannot split, an int() that fails
        with contextlib.suppress(OSError):
            connection.respond(400, b'{"error": "bad request"}', close=True)
    except (ClientGone, OSError):
        pass
    connection.linger_and_close()


# --- strict, closer, announce-close ----------------------------------------------------------


def _block_end(buffer: bytearray) -> tuple[int, int]:
    """(where the header block ends, where the body starts), or (-1, -1)."""
    if MODE == "lenient":
        found = BLOCK_END.search(buffer)
        return (found.start(), found.end()) if found else (-1, -1)
    end = buffer.find(b"\r\n\r\n")
    return (end, end + 4) if end >= 0 else (-1, -1)


def strict_head(connection: Connection) -> bytes:
    """The header block, within HEADER_LIMIT and HEADER_DEADLINE_S."""
    deadline = time.monotonic() + HEADER_DEADLINE_S
    while True:
        end, body_start = _block_end(connection.buffer)
        block = connection.buffer if end < 0 else connection.buffer[:end]
        if MODE != "lenient" and BARE_LF.search(block):
            raise BadRequest
        if len(block) > HEADER_LIMIT:
            raise BadRequest(431)
        if end >= 0:
            head = connection.take(end)
            del connection.buffer[: body_start - end]
            return head
        left = deadline - time.monotonic()
        if left <= 0:
            raise ClientGone  # a slow or idle client is dropped
        connection.fill(left)


def strict_request(head: bytes) -> Request:
    loose = MODE == "lenient"
    request_line, *lines = LINE_END.split(head) if loose else head.split(b"\r\n")
    match = REQUEST_LINE.fullmatch(request_line)
    if match is None:
        raise BadRequest
    headers: list[tuple[str, str]] = []
    for line in lines:
        if loose and line[:1] in (b" ", b"\t") and headers:  # a fold: joined with a space
            name_text, value_text = headers.pop()
            folded = line.strip(b" \t").decode("latin-1")
            headers.append((name_text, f"{value_text} {folded}"))
            continue
        name, colon, value = line.partition(b":")
        # Strict: a fold, a space before the colon or a control byte in the name is refused;
        # lenient refuses only whitespace in the name (the space before a colon).
        if not colon or not (LOOSE_NAME if loose else TOKEN).fullmatch(name):
            raise BadRequest
        value = value.strip(b" \t")
        if not loose and BAD_VALUE_BYTE.search(value):
            raise BadRequest
        headers.append((name.decode("latin-1"), value.decode("latin-1")))
    request = Request(match[1].decode(), match[2].decode("latin-1"), headers)
    lengths, codings = request.values("content-length"), request.values("transfer-encoding")
    if len(lengths) > 1 or (not loose and len(request.values("host")) != 1):
        raise BadRequest
    if lengths and not lengths[0].isdigit():  # 1*DIGIT: no sign, no underscore, no list
        raise BadRequest
    if codings and (len(codings) != 1 or codings[0].lower() != "chunked"):
        raise BadRequest
    if codings and lengths and not loose:  # lenient reads it chunked, as RFC 9112 6.1 says
        raise BadRequest
    return request


def chunked_body(connection: Connection) -> Iterator[bytes]:
    while True:
        size_line = connection.line()
        if not HEX_SIZE.fullmatch(size_line):  # no 0x, no _, no extensions, no huge sizes
            raise BadRequest
        size = int(size_line, 16)
        if size == 0:
            break
        yield from connection.pieces(size, BODY_TIMEOUT_S)
        if connection.line() != b"":
            raise BadRequest
    while connection.line() != b"":  # trailer fields, ignored
        pass


def strict_body(connection: Connection, request: Request) -> Iterator[bytes]:
    if request.header("transfer-encoding"):
        return chunked_body(connection)
    return connection.pieces(int(request.header("content-length") or 0), BODY_TIMEOUT_S)


def serve_strict(sock: socket.socket, peer: str) -> None:
    with OPEN_LOCK:
        OPEN_CONNECTIONS[0] += 1
        if MODE == "wedge" and OPEN_CONNECTIONS[0] > WEDGE_ABOVE:
            WEDGED.set()
    try:
        serve_strict_connection(sock, peer)
    finally:
        with OPEN_LOCK:
            OPEN_CONNECTIONS[0] -= 1


def serve_strict_connection(sock: socket.socket, peer: str) -> None:
    connection = Connection(sock, peer)
    try:
        while True:
            request = strict_request(strict_head(connection))
            length = request.header("content-length")
            has_body = bool(request.header("transfer-encoding")) or length not in (None, "0")
            if has_body and (request.header("expect") or "").lower() == "100-continue":
                # The client waits for this before it sends the body.
                sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            # The peer is who connected; forwarded headers are only passed on to the view.
            body = strict_body(connection, request)
            if WEDGED.is_set():
                NEVER.wait()  # forever: nothing sets it
            if MODE == "wedge":
                with SERVICE_LOCK:
                    time.sleep(WEDGE_SERVICE_S)
                if WEDGED.is_set():
                    NEVER.wait()  # wedged while this request waited its turn
            status, payload, location = answer(request, body, peer, "http")
            close = MODE == "announce-close" or request.wants_close
            head = request.method == "HEAD"
            connection.respond(status, payload, close=close, head=head, location=location)
            if close:
                break
    except BadRequest as error:
        if MODE == "closer" and error.status == 431:
            sock.close()  # refused without a word
            return
        with contextlib.suppress(OSError):
            connection.respond(error.status, b'{"error": "bad request"}', close=True)
    except (ClientGone, OSError):
        sock.close()
        return
    connection.linger_and_close()


def main() -> None:
    modes = ("naive", "cl0", "strict", "lenient", "tight", "closer", "announce-close", "wedge")
    if MODE not in modes:
        sys.exit(f"unknown mode {MODE!r}")
    listener = socket.create_server(("127.0.0.1", PORT), backlog=128)
    print(f"hazard_server listening on {PORT} in {MODE} mode", flush=True)
    while True:
        sock, (peer, _) = listener.accept()
        if MODE in ("naive", "cl0"):
            serve_naive(sock, peer)  # one at a time: the next client waits its turn
        else:
            threading.Thread(target=serve_strict, args=(sock, peer), daemon=True).start()


main()
