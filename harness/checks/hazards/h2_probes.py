"""The probes of the http2-frames check (``http2_frames``): each opens its own HTTP/2
connection, writes frames by hand (``h2_wire``) that a client library would refuse to send,
and returns its record, with "passed" and a phrase for the summary. The rapid reset, which
times a second client, is ``h2_rapid_reset``'s.
"""

from __future__ import annotations

import ssl
import time
from collections import Counter
from typing import Any

from hpack import Encoder
from hyperframe.frame import ContinuationFrame, SettingsFrame

from harness.checks.hazards.h2_wire import (
    ANSWER_TIMEOUT_S,
    HEADERS,
    MAX_CONCURRENT_STREAMS,
    PATH,
    RST_STREAM,
    SETTINGS,
    Frame,
    H2Connection,
    answered,
    error_name,
    goaway_code,
    goaway_of,
    raw_frame,
)
from harness.launcher import Instance

UNKNOWN_TYPE = 0xFA  # no frame type has this number: a receiver must ignore it (RFC 9113 5.5)

SETTINGS_FLOOD = 5000
CONTINUATION_LIMIT_BYTES = 8 * 1024 * 1024
MAX_FRAME_PAYLOAD = 16384  # SETTINGS_MAX_FRAME_SIZE's initial value (RFC 9113 6.5.2)
STREAMS_OVER_LIMIT = 5
REFUSE_WAIT_S = 1.0  # for the server to refuse the streams over its limit
SERVE_WAIT_S = 5.0  # for the streams it kept to be answered once ended
ZERO_WINDOW_HOLD_S = 3.0


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
        "goaway_code": goaway_code(seen),
        "passed": passed,
        "phrase": "an unknown frame type was ignored"
        if passed
        else f"an unknown frame type broke the connection ({ended})",
    }


def stream_limit(instance: Instance) -> dict[str, Any]:
    """More streams than the server allows, open at once; then the ones it kept, ended."""
    connection = H2Connection.open(instance)
    try:
        seen: list[Frame] = []
        connection.read_until(lambda f: f.type == SETTINGS, 2.0, seen)
        limit = connection.server_settings.get(MAX_CONCURRENT_STREAMS)
        record: dict[str, Any] = {"max_concurrent_streams": limit}
        if limit is None or limit > 1000:
            record.update(
                passed=True,
                verdict="untested",
                phrase=f"no stream limit to test (advertised {limit})",
            )
            return record
        # One write, and no END_STREAM: every stream is open at once whatever the view does,
        # until this side ends it (RFC 9113 5.1.2 counts open and half-closed streams).
        opened = [
            connection.request_frame(PATH, end_stream=False)
            for _ in range(limit + STREAMS_OVER_LIMIT)
        ]
        connection.send(b"".join(frame.serialize() for _, frame in opened))
        tracker = StreamTracker(connection)
        ended = connection.read_until(tracker.note, REFUSE_WAIT_S, seen)
        refused = dict(tracker.reset)  # before any was ended: refused for the limit
        held_open = len(opened) - len(refused) if ended == "timeout" else None
        if ended == "timeout":
            kept = [stream_id for stream_id, _ in opened if stream_id not in refused]
            connection.send(b"".join(connection.end_stream_frame(sid) for sid in kept))
            tracker.expect(kept)
            ended = connection.read_until(tracker.note, SERVE_WAIT_S, seen)
    finally:
        connection.close()
    goaway = goaway_of(seen)
    record.update(
        opened=len(opened),
        held_open=held_open,
        refused=len(refused),
        refused_codes=dict(Counter(error_name(code) for code in refused.values())),
        served=len(tracker.served),
        ended=ended,
        goaway_code=goaway.error_code() if goaway else None,
        goaway_last_stream_id=goaway.last_stream_id() if goaway else None,
    )
    record["verdict"], record["phrase"] = judge_stream_limit(record)
    record["passed"] = record["verdict"] == "refused"
    return record


class StreamTracker:
    """Which streams the server answered, and which it reset (with the code), from the frames
    read; ``note`` is true once every expected stream has been answered or reset."""

    def __init__(self, connection: H2Connection) -> None:
        self.connection = connection
        self.served: set[int] = set()
        self.reset: dict[int, int] = {}
        self.expected: set[int] | None = None

    def expect(self, stream_ids: list[int]) -> None:
        self.expected = set(stream_ids)

    def note(self, frame: Frame) -> bool:
        if frame.type == HEADERS:
            if self.connection.header_status(frame) == "200":
                self.served.add(frame.stream_id)
        elif frame.type == RST_STREAM and frame.stream_id not in self.served:
            self.reset[frame.stream_id] = frame.error_code() or 0
        return self.expected is not None and self.expected <= self.served | set(self.reset)


def judge_stream_limit(record: dict[str, Any]) -> tuple[str, str]:
    """ "refused" (the extra streams refused, the others served), "closed" (the whole
    connection closed over them) or "ignored" (more streams kept open than advertised)."""
    limit, opened, served = record["max_concurrent_streams"], record["opened"], record["served"]
    held = record["held_open"]
    if held is None:
        goaway = (
            f"GOAWAY {error_name(record['goaway_code'])}"
            if record["goaway_code"] is not None
            else f"the connection {record['ended']}"
        )
        last = record.get("goaway_last_stream_id")
        took = ""
        if last:
            took = f", naming stream {last} ({(last + 1) // 2} streams) the last it took"
        return "closed", (
            f"the server closed the whole connection ({goaway}{took}) when {opened} streams "
            f"were opened against its limit of {limit}, instead of refusing the "
            f"{opened - limit} extra ones: {served} of {opened} served"
        )
    codes = ", ".join(f"{name} ({n})" for name, n in sorted(record["refused_codes"].items()))
    if held > limit:
        return "ignored", (
            f"{held} streams kept open at once against a limit of {limit} "
            f"({served} of {opened} served"
            + (f", {record['refused']} refused: {codes}" if record["refused"] else "")
            + ")"
        )
    return "refused", (
        f"the stream limit of {limit} held: {held} streams open at once, the "
        f"{record['refused']} others refused ({codes}), {served} of {held} served"
    )


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
    return {"sent": SETTINGS_FLOOD, "acks": acks, "ended": ended, "goaway_code": goaway_code(seen)}


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
        "goaway_code": goaway_code(seen),
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
