"""The http2-frames check: HTTP/2 attack classes and basic conformance at the frame level, for
the configurations that speak HTTP/2 (their h2c command, else their HTTP/2-over-TLS one).

Frames are written with hyperframe and header blocks with hpack, not through the h2 state
machine: a client library refuses to exceed the server's stream limit, to reset streams by the
thousand, or to send endless CONTINUATION frames, which is exactly what these probes do. After
each attack, a fresh connection asks for a page: a server that stopped answering is the finding.
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
from hyperframe.frame import (
    ContinuationFrame,
    HeadersFrame,
    RstStreamFrame,
    SettingsFrame,
)

from harness.checks import Check, CheckContext, Finding
from harness.checks.hazards._shared import GROUP
from harness.checks.protocols.instances import did_not_start, first_declared, running
from harness.launcher import Instance
from harness.process import StartError

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
PATH = "/json/sync"
GOAWAY, HEADERS, RST_STREAM, SETTINGS = 0x7, 0x1, 0x3, 0x4
MAX_CONCURRENT_STREAMS = 0x3
CANCEL = 0x8
ERROR_CODES = {  # RFC 9113 7, for the summaries
    0x0: "NO_ERROR",
    0x1: "PROTOCOL_ERROR",
    0x2: "INTERNAL_ERROR",
    0x6: "FRAME_SIZE_ERROR",
    0x9: "COMPRESSION_ERROR",
    0xB: "ENHANCE_YOUR_CALM",
}
UNKNOWN_TYPE = 0xFA  # no frame type has this number: a receiver must ignore it (RFC 9113 5.5)

ANSWER_TIMEOUT_S = 5.0  # for the probe request after each attack
RAPID_RESETS = 1000
SETTINGS_FLOOD = 5000
CONTINUATION_LIMIT_BYTES = 8 * 1024 * 1024
MAX_FRAME_PAYLOAD = 16384  # SETTINGS_MAX_FRAME_SIZE's initial value (RFC 9113 6.5.2)
STREAMS_OVER_LIMIT = 5
ZERO_WINDOW_HOLD_S = 3.0

THRESHOLDS = (
    "On the h2c instance (else HTTP/2 over TLS): an unknown frame type before a request "
    "(must be ignored); more streams than the server's SETTINGS_MAX_CONCURRENT_STREAMS (the "
    f"extra ones should be refused); {RAPID_RESETS} streams opened and reset at once (rapid "
    f"reset); {SETTINGS_FLOOD} SETTINGS frames (a SETTINGS flood); a header block continued "
    f"with CONTINUATION frames up to {CONTINUATION_LIMIT_BYTES // 2**20} MiB (a CONTINUATION "
    "flood); and a response held behind a zero flow-control window for "
    f"{ZERO_WINDOW_HOLD_S:g} s. After each, a new connection must get an answer within "
    f"{ANSWER_TIMEOUT_S:g} s. Outcome: no = the server stopped answering after an attack; "
    "partial = it stayed up, but read the whole CONTINUATION flood without closing, ignored "
    "its stream limit or failed on the unknown frame; yes = every probe passed; "
    "not-applicable without an HTTP/2 command."
)


@dataclass
class Frame:
    type: int
    flags: int
    stream_id: int
    payload: bytes


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

    def request_frame(self, path: str, end_headers: bool = True) -> tuple[int, HeadersFrame]:
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
        frame.flags.add("END_STREAM")
        if end_headers:
            frame.flags.add("END_HEADERS")
        return stream_id, frame

    def read_frame(self, timeout_s: float) -> Frame | None:
        """The next frame (SETTINGS acknowledged, header blocks decoded); None at the end."""
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


def _goaway_code(frames: list[Frame]) -> int | None:
    goaway = next((frame for frame in frames if frame.type == GOAWAY), None)
    return struct.unpack("!I", goaway.payload[4:8])[0] if goaway else None


def answered(instance: Instance, path: str = PATH) -> dict[str, Any]:
    """A fresh connection's GET: its status and time, or why none came."""
    began = time.monotonic()
    try:
        connection = H2Connection.open(instance, ANSWER_TIMEOUT_S)
    except (OSError, ssl.SSLError) as error:
        return {"status": None, "problem": f"connect: {type(error).__name__}: {error}"[:200]}
    try:
        stream_id, frame = connection.request_frame(path)
        connection.send(frame.serialize())
        seen: list[Frame] = []
        statuses: list[str | None] = []

        def response(frame: Frame) -> bool:
            if frame.type == HEADERS and frame.stream_id == stream_id:
                statuses.append(connection.header_status(frame))
                return True
            return frame.type == RST_STREAM and frame.stream_id == stream_id

        ended = connection.read_until(response, ANSWER_TIMEOUT_S, seen)
    finally:
        connection.close()
    return {
        "status": statuses[0] if statuses else None,
        "ended": ended,
        "after_s": round(time.monotonic() - began, 3),
    }


# --- the probes: each returns its record, with "passed" and a phrase -----------------------


def unknown_frame(instance: Instance) -> dict[str, Any]:
    connection = H2Connection.open(instance)
    try:
        connection.send(raw_frame(UNKNOWN_TYPE, 0, 0, b"ignore me"))
        stream_id, frame = connection.request_frame(PATH)
        connection.send(frame.serialize())
        seen: list[Frame] = []
        ended = connection.read_until(
            lambda f: f.type == HEADERS and f.stream_id == stream_id, ANSWER_TIMEOUT_S, seen
        )
    finally:
        connection.close()
    passed = ended == "done"
    return {
        "ended": ended,
        "goaway_code": _goaway_code(seen),
        "passed": passed,
        "phrase": "an unknown frame type was ignored"
        if passed
        else f"an unknown frame type broke the connection ({ended})",
    }


def stream_limit(instance: Instance) -> dict[str, Any]:
    connection = H2Connection.open(instance)
    try:
        seen: list[Frame] = []
        connection.read_until(lambda f: f.type == SETTINGS, 2.0, seen)
        limit = connection.server_settings.get(MAX_CONCURRENT_STREAMS)
        record: dict[str, Any] = {"max_concurrent_streams": limit}
        if limit is None or limit > 1000:
            record.update(passed=True, phrase=f"no stream limit to test (advertised {limit})")
            return record
        # All in one write: the server reads every HEADERS frame before it can finish a
        # response, so all are open at once (a slow path would measure the view instead).
        opened = [connection.request_frame(PATH) for _ in range(limit + STREAMS_OVER_LIMIT)]
        connection.send(b"".join(frame.serialize() for _, frame in opened))
        refused: set[int] = set()
        served: set[int] = set()

        def settled(frame: Frame) -> bool:
            if frame.type == RST_STREAM:
                refused.add(frame.stream_id)
            elif frame.type == HEADERS:
                served.add(frame.stream_id)
            return len(refused | served) >= len(opened)

        ended = connection.read_until(settled, 5.0, seen)
    finally:
        connection.close()
    over = len(served) > limit
    record.update(
        opened=len(opened),
        served=len(served),
        refused=len(refused),
        ended=ended,
        goaway_code=_goaway_code(seen),
        passed=not over,
        phrase=(
            f"{len(served)} of {len(opened)} streams served against a limit of {limit}"
            if over
            else f"the stream limit of {limit} held ({len(served)} of {len(opened)} streams "
            f"served, {len(refused)} reset"
            + (f", GOAWAY code {_goaway_code(seen)}" if _goaway_code(seen) is not None else "")
            + ")"
        ),
    )
    return record


def rapid_reset(instance: Instance) -> dict[str, Any]:
    connection = H2Connection.open(instance)
    began = time.monotonic()
    sent = 0
    try:
        burst = bytearray()
        for _ in range(RAPID_RESETS):
            stream_id, frame = connection.request_frame(PATH)
            burst += frame.serialize() + RstStreamFrame(stream_id, error_code=CANCEL).serialize()
            sent += 1
        connection.send(bytes(burst))
        seen: list[Frame] = []
        ended = connection.read_until(lambda f: False, 2.0, seen)
    except (OSError, ssl.SSLError) as error:
        ended = f"send failed: {type(error).__name__}"
        seen = []
    finally:
        connection.close()
    return {
        "sent": sent,
        "ended": ended,
        "goaway_code": _goaway_code(seen),
        "sent_in_s": round(time.monotonic() - began, 3),
    }


def settings_flood(instance: Instance) -> dict[str, Any]:
    connection = H2Connection.open(instance)
    try:
        connection.send(SettingsFrame(0).serialize() * SETTINGS_FLOOD)
        seen: list[Frame] = []
        ended = connection.read_until(lambda f: False, 2.0, seen)
        acks = sum(1 for frame in seen if frame.type == SETTINGS and frame.flags & 0x1)
    except (OSError, ssl.SSLError) as error:
        ended, acks, seen = f"send failed: {type(error).__name__}", 0, []
    finally:
        connection.close()
    return {"sent": SETTINGS_FLOOD, "acks": acks, "ended": ended, "goaway_code": _goaway_code(seen)}


def continuation_flood(instance: Instance) -> dict[str, Any]:
    connection = H2Connection.open(instance)
    sent = 0
    ended = "sent everything"
    try:
        stream_id, frame = connection.request_frame(PATH, end_headers=False)
        connection.send(frame.serialize())
        junk = Encoder()
        number = 0
        pending = b""
        while sent < CONTINUATION_LIMIT_BYTES:
            while len(pending) < MAX_FRAME_PAYLOAD:
                number += 1
                pending += junk.encode([(f"x-flood-{number}", "y" * 64)], huffman=False)
            # A header block may be cut anywhere; each frame stays within the default
            # SETTINGS_MAX_FRAME_SIZE, so only the block's size is under test.
            piece, pending = pending[:MAX_FRAME_PAYLOAD], pending[MAX_FRAME_PAYLOAD:]
            connection.send(ContinuationFrame(stream_id, data=piece).serialize())
            sent += len(piece)
    except (OSError, ssl.SSLError) as error:
        ended = f"the server stopped reading ({type(error).__name__})"
    seen: list[Frame] = []
    after = connection.read_until(lambda f: False, 1.0, seen)
    if ended == "sent everything":
        ended = after
    connection.close()
    # Reading the whole flood without closing is the hazard, whatever it answers afterwards.
    took_all = sent >= CONTINUATION_LIMIT_BYTES
    return {
        "sent_bytes": sent,
        "ended": ended,
        "goaway_code": _goaway_code(seen),
        "took_all": took_all,
    }


def zero_window(instance: Instance) -> dict[str, Any]:
    """A client that opens with a zero initial window holds the response; meanwhile another
    connection must be served."""
    connection = H2Connection.open(instance)
    try:
        connection.send(SettingsFrame(0, settings={0x4: 0}).serialize())
        _, frame = connection.request_frame(PATH)
        connection.send(frame.serialize())
        other = answered(instance)
        time.sleep(ZERO_WINDOW_HOLD_S)
    finally:
        connection.close()
    return {"other_connection": other, "passed": other["status"] == "200"}


def run(context: CheckContext) -> Finding:
    kind = first_declared(context, ("h2c", "http2_tls"))
    if kind is None or kind == "http":
        return Finding("not-applicable", "The configuration declares no HTTP/2 command.")
    try:
        with running(context, kind) as instance:
            return _probe(context, kind, instance)
    except StartError as error:
        return did_not_start(kind, error)


def _probe(context: CheckContext, kind: str, instance: Instance) -> Finding:
    evidence: dict[str, Any] = {"kind": kind, "instance": instance.describe()}
    baseline = answered(instance)
    evidence["baseline"] = baseline
    if baseline["status"] != "200":
        return Finding("error", f"No HTTP/2 answer before any probe: {baseline}", evidence)
    down_after = None
    for name, probe in (
        ("unknown_frame", unknown_frame),
        ("stream_limit", stream_limit),
        ("rapid_reset", rapid_reset),
        ("settings_flood", settings_flood),
        ("continuation_flood", continuation_flood),
        ("zero_window", zero_window),
    ):
        try:
            record = probe(instance)
        except (OSError, ssl.SSLError) as error:
            record = {"problem": f"{type(error).__name__}: {error}"[:200]}
        record["answered_after"] = answered(instance)
        evidence[name] = record
        if record["answered_after"]["status"] != "200" and down_after is None:
            down_after = name.replace("_", " ")
    return Finding(*judge(evidence, down_after), evidence)


def judge(evidence: dict[str, Any], down_after: str | None) -> tuple[str, str]:
    flood = evidence["continuation_flood"]
    sent_mib = flood.get("sent_bytes", 0) / 2**20
    said = "; ".join(
        part
        for part in (
            evidence["unknown_frame"].get("phrase"),
            evidence["stream_limit"].get("phrase"),
            f"CONTINUATION flood: {sent_mib:.1f} MiB sent, {flood.get('ended')}"
            + (
                f" (GOAWAY {ERROR_CODES.get(flood['goaway_code'], flood['goaway_code'])})"
                if flood.get("goaway_code") is not None
                else ""
            ),
        )
        if part
    )
    if down_after is not None:
        return "no", f"The server stopped answering after the {down_after} probe. {said}."
    if flood.get("took_all"):
        return "partial", (
            f"The server stayed up, but read a {sent_mib:.0f} MiB header block without closing "
            f"the connection (no bound on CONTINUATION frames below that). {said}."
        )
    if not evidence["unknown_frame"].get("passed") or not evidence["stream_limit"].get("passed"):
        return "partial", f"The server stayed up through every attack, but: {said}."
    return "yes", f"The server stayed up through every attack; {said}."


CHECKS = [
    Check(
        id="http2-frames",
        title="HTTP/2 frame-level attacks",
        group=GROUP,
        question=(
            "Does the server's HTTP/2 stay up under rapid reset, SETTINGS and CONTINUATION "
            "floods and a zero window, ignore unknown frames and honour its stream limit?"
        ),
        thresholds=THRESHOLDS,
        run=run,
    ),
]
