"""HTTP/2 at the frame level, for the http2-frames check: a raw connection that writes frames
with hyperframe and header blocks with hpack, reads frames back, and a fresh connection's GET.

Not the h2 state machine: a client library refuses to exceed the server's stream limit, to reset
streams by the thousand, or to send endless CONTINUATION frames, which is what the probes do.
"""

from __future__ import annotations

import socket
import ssl
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hpack import Decoder, Encoder
from hyperframe.frame import DataFrame, HeadersFrame, SettingsFrame

from harness.launcher import Instance

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
PATH = "/json/sync"
DATA, HEADERS, RST_STREAM, SETTINGS, GOAWAY = 0x0, 0x1, 0x3, 0x4, 0x7
MAX_CONCURRENT_STREAMS = 0x3
ERROR_CODES = {  # RFC 9113 7, for the summaries
    0x0: "NO_ERROR",
    0x1: "PROTOCOL_ERROR",
    0x2: "INTERNAL_ERROR",
    0x3: "FLOW_CONTROL_ERROR",
    0x5: "STREAM_CLOSED",
    0x6: "FRAME_SIZE_ERROR",
    0x7: "REFUSED_STREAM",
    0x8: "CANCEL",
    0x9: "COMPRESSION_ERROR",
    0xB: "ENHANCE_YOUR_CALM",
}
ANSWER_TIMEOUT_S = 5.0  # for the probe request after each attack


def error_name(code: int | None) -> str:
    return "none" if code is None else ERROR_CODES.get(code, f"0x{code:x}")


@dataclass
class Frame:
    type: int
    flags: int
    stream_id: int
    payload: bytes

    def error_code(self) -> int | None:
        """The error code of a RST_STREAM or GOAWAY frame (RFC 9113 6.4, 6.8)."""
        if self.type == RST_STREAM and len(self.payload) >= 4:
            return struct.unpack("!I", self.payload[:4])[0]
        if self.type == GOAWAY and len(self.payload) >= 8:
            return struct.unpack("!I", self.payload[4:8])[0]
        return None

    def last_stream_id(self) -> int | None:
        """A GOAWAY's last stream: the highest the server says it may have acted on."""
        if self.type != GOAWAY or len(self.payload) < 4:
            return None
        return struct.unpack("!I", self.payload[:4])[0] & 0x7FFFFFFF


@dataclass
class H2Connection:
    """A raw HTTP/2 connection: frames out, frames in, header blocks through hpack."""

    sock: socket.socket
    scheme: str
    authority: str
    encoder: Encoder = field(default_factory=Encoder)
    decoder: Decoder = field(default_factory=Decoder)
    buffer: bytearray = field(default_factory=bytearray)
    server_settings: dict[int, int] = field(default_factory=dict)
    next_stream: int = 1

    @classmethod
    def open(cls, instance: Instance, timeout_s: float = 5.0) -> H2Connection:
        parts = instance.base_url.split("://", 1)
        scheme, authority = parts[0], parts[1].rstrip("/")
        host, port = authority.rsplit(":", 1)
        sock: socket.socket = socket.create_connection((host, int(port)), timeout=timeout_s)
        if scheme == "https":
            context = instance.tls.client_context()
            context.set_alpn_protocols(["h2"])
            sock = context.wrap_socket(sock, server_hostname=host)
            if sock.selected_alpn_protocol() != "h2":
                sock.close()
                raise ConnectionError("the server did not negotiate h2 by ALPN")
        connection = cls(sock, scheme, authority)
        connection.send(PREFACE + SettingsFrame(0).serialize())
        return connection

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()

    def request_frame(
        self, path: str, end_headers: bool = True, end_stream: bool = True
    ) -> tuple[int, HeadersFrame]:
        """A GET's HEADERS frame on the next stream; without ``end_stream`` the stream stays
        open from this side (the request could still send a body)."""
        stream_id = self.next_stream
        self.next_stream += 2
        frame = HeadersFrame(stream_id)
        frame.data = self.encoder.encode(
            [
                (":method", "GET"),
                (":path", path),
                (":scheme", self.scheme),
                (":authority", self.authority),
            ]
        )
        if end_stream:
            frame.flags.add("END_STREAM")
        if end_headers:
            frame.flags.add("END_HEADERS")
        return stream_id, frame

    @staticmethod
    def end_stream_frame(stream_id: int) -> bytes:
        """An empty DATA frame that ends the client's side of a stream."""
        return DataFrame(stream_id, data=b"", flags=["END_STREAM"]).serialize()

    def read_frame(self, timeout_s: float) -> Frame | None:
        """The next frame (SETTINGS acknowledged); None at the end of the connection."""
        deadline = time.monotonic() + timeout_s
        while len(self.buffer) < 9 or len(self.buffer) < 9 + _length(self.buffer):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buffer += data
        length = _length(self.buffer)
        kind, flags = self.buffer[3], self.buffer[4]
        stream_id = struct.unpack("!I", self.buffer[5:9])[0] & 0x7FFFFFFF
        payload = bytes(self.buffer[9 : 9 + length])
        del self.buffer[: 9 + length]
        if kind == SETTINGS and not flags & 0x1:
            for offset in range(0, len(payload) - 5, 6):
                key, value = struct.unpack("!HI", payload[offset : offset + 6])
                self.server_settings[key] = value
            self.send(SettingsFrame(0, flags=["ACK"]).serialize())
        return Frame(kind, flags, stream_id, payload)

    def header_status(self, frame: Frame) -> str | None:
        """:status of a response HEADERS frame (padding and priority stripped)."""
        payload = frame.payload
        if frame.flags & 0x8:  # PADDED
            payload = payload[1 : len(payload) - payload[0]]
        if frame.flags & 0x20:  # PRIORITY
            payload = payload[5:]
        try:
            headers = dict(self.decoder.decode(payload))
        except Exception:  # a header block split over CONTINUATION frames: status unknown
            return None
        status = headers.get(":status") or headers.get(b":status")
        return status.decode() if isinstance(status, bytes) else status

    def read_until(self, done: Callable[[Frame], bool], timeout_s: float, seen: list[Frame]) -> str:
        """Read frames into ``seen`` until ``done`` says so: "done", "closed", "goaway" or
        "timeout"."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                frame = self.read_frame(left)
            except TimeoutError:
                return "timeout"
            except (ConnectionError, ssl.SSLError, OSError):
                return "closed"
            if frame is None:
                return "closed"
            seen.append(frame)
            if frame.type == GOAWAY:
                return "goaway"
            if done(frame):
                return "done"
        return "timeout"


def raw_frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    """A frame of any type, written by hand (RFC 9113 4.1)."""
    return (
        len(payload).to_bytes(3, "big")
        + bytes([kind, flags])
        + struct.pack("!I", stream_id)
        + payload
    )


def _length(buffer: bytearray) -> int:
    return int.from_bytes(buffer[:3], "big")


def goaway_of(frames: list[Frame]) -> Frame | None:
    return next((frame for frame in frames if frame.type == GOAWAY), None)


def goaway_code(frames: list[Frame]) -> int | None:
    goaway = goaway_of(frames)
    return goaway.error_code() if goaway else None


def answered(instance: Instance, path: str = PATH) -> dict[str, Any]:
    """A fresh connection's GET: its status and time, or why none came (a server that dies
    while this runs is a finding, never an exception)."""
    began = time.monotonic()
    try:
        connection = H2Connection.open(instance, ANSWER_TIMEOUT_S)
    except (OSError, ssl.SSLError) as error:
        return {"status": None, "problem": f"connect: {type(error).__name__}: {error}"[:200]}
    statuses: list[str | None] = []
    try:
        stream_id, frame = connection.request_frame(path)
        connection.send(frame.serialize())

        def response(frame: Frame) -> bool:
            if frame.type == HEADERS and frame.stream_id == stream_id:
                statuses.append(connection.header_status(frame))
                return True
            return frame.type == RST_STREAM and frame.stream_id == stream_id

        ended = connection.read_until(response, ANSWER_TIMEOUT_S, [])
    except (OSError, ssl.SSLError) as error:
        ended = f"send failed: {type(error).__name__}"
    finally:
        connection.close()
    return {
        "status": statuses[0] if statuses else None,
        "ended": ended,
        "after_s": round(time.monotonic() - began, 3),
    }
