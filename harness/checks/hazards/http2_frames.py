"""The http2-frames check: HTTP/2 attack classes and basic conformance at the frame level, for
the configurations that speak HTTP/2 (their h2c command, else their HTTP/2-over-TLS one).

Frames are written by hand (``h2_wire``), not through the h2 state machine: a client library
refuses to exceed the server's stream limit, to reset streams by the thousand, or to send
endless CONTINUATION frames, which is exactly what these probes do. After each attack, a fresh
connection asks for a page: a server that stopped answering is the finding. The rapid reset
(``h2_rapid_reset``) lasts seconds and measures a second client meanwhile, so the check takes
the machine to itself.
"""

from __future__ import annotations

import ssl
import time
from collections import Counter
from typing import Any

from hpack import Encoder
from hyperframe.frame import ContinuationFrame, SettingsFrame

from harness.checks import Check, CheckContext, Finding
from harness.checks.hazards._shared import GROUP
from harness.checks.hazards.h2_rapid_reset import RULE as RAPID_RESET_RULE
from harness.checks.hazards.h2_rapid_reset import rapid_reset
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
from harness.checks.protocols.instances import did_not_start, first_declared, running
from harness.launcher import Instance
from harness.process import StartError

UNKNOWN_TYPE = 0xFA  # no frame type has this number: a receiver must ignore it (RFC 9113 5.5)

SETTINGS_FLOOD = 5000
CONTINUATION_LIMIT_BYTES = 8 * 1024 * 1024
MAX_FRAME_PAYLOAD = 16384  # SETTINGS_MAX_FRAME_SIZE's initial value (RFC 9113 6.5.2)
STREAMS_OVER_LIMIT = 5
REFUSE_WAIT_S = 1.0  # for the server to refuse the streams over its limit
SERVE_WAIT_S = 5.0  # for the streams it kept to be answered once ended
ZERO_WINDOW_HOLD_S = 3.0

THRESHOLDS = (
    "On the h2c instance (else HTTP/2 over TLS): an unknown frame type before a request "
    "(must be ignored); "
    f"{STREAMS_OVER_LIMIT} streams more than the server's SETTINGS_MAX_CONCURRENT_STREAMS, all "
    "opened in one write and left open (no END_STREAM) so that they are open at once, then "
    "ended to be served (RFC 9113 5.1.2: the extra ones are refused with a stream error, "
    "RST_STREAM PROTOCOL_ERROR or REFUSED_STREAM); "
    f"{RAPID_RESET_RULE}; {SETTINGS_FLOOD} SETTINGS frames (a SETTINGS flood); a header block "
    f"continued with CONTINUATION frames up to {CONTINUATION_LIMIT_BYTES // 2**20} MiB (a "
    "CONTINUATION flood); and a response held behind a zero flow-control window for "
    f"{ZERO_WINDOW_HOLD_S:g} s. After each, a new connection must get an answer within "
    f"{ANSWER_TIMEOUT_S:g} s. Outcome: no = the server stopped answering after an attack, or the "
    "rapid reset starved the second client; partial = it stayed up, but read the whole "
    "CONTINUATION flood without closing, kept more streams open than its limit, closed the "
    "whole connection over the extra streams instead of refusing them, did not bound the "
    "rapid reset (or the second client's latency grew past the bound), or failed on the "
    "unknown frame; yes = every probe passed; not-applicable without an HTTP/2 command."
)


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
    rapid = evidence.get("rapid_reset") or {}
    limit = evidence["stream_limit"]
    sent_mib = flood.get("sent_bytes", 0) / 2**20
    said = "; ".join(
        part
        for part in (
            evidence["unknown_frame"].get("phrase"),
            limit.get("phrase"),
            rapid.get("phrase"),
            f"CONTINUATION flood: {sent_mib:.1f} MiB sent, {flood.get('ended')}"
            + (
                f" (GOAWAY {error_name(flood['goaway_code'])})"
                if flood.get("goaway_code") is not None
                else ""
            ),
        )
        if part
    )
    said = said[:1].upper() + said[1:]
    if down_after is not None:
        return "no", f"The server stopped answering after the {down_after} probe. {said}."
    if rapid.get("verdict") == "starved":
        return "no", f"The rapid reset starved a second client of its answers. {said}."
    if rapid.get("verdict") == "error":
        return "error", f"The rapid reset could not be measured. {said}."
    but = []
    if flood.get("took_all"):
        but.append(
            f"read a {sent_mib:.0f} MiB header block without closing the connection (no bound "
            "on CONTINUATION frames below that)"
        )
    if limit.get("verdict") == "closed":
        but.append("closed the whole connection over streams beyond its limit")
    elif not limit.get("passed"):
        but.append("kept more streams open than its limit")
    if rapid.get("verdict") == "unbounded":
        but.append("did not bound the rapid reset within the latency bound")
    if not evidence["unknown_frame"].get("passed"):
        but.append("failed on an unknown frame type")
    if but:
        return "partial", f"The server stayed up, but {'; '.join(but)}. {said}."
    return "yes", f"The server stayed up through every attack. {said}."


CHECKS = [
    Check(
        # The rapid reset loads both cores (an attacker and the server) while it times a
        # second client: the check takes the machine to itself.
        heavy=True,
        id="http2-frames",
        title="HTTP/2 frame-level attacks",
        group=GROUP,
        question=(
            "Does the server's HTTP/2 bound a sustained rapid reset while serving others, stay "
            "up under SETTINGS and CONTINUATION floods and a zero window, ignore unknown frames "
            "and refuse the streams beyond its limit?"
        ),
        thresholds=THRESHOLDS,
        run=run,
    ),
]
