"""The http2-frames check: HTTP/2 attack classes and basic conformance at the frame level, for
the configurations that speak HTTP/2 (their h2c command, else their HTTP/2-over-TLS one).

Frames are written by hand (``h2_wire``), not through the h2 state machine: a client library
refuses to exceed the server's stream limit, to reset streams by the thousand, or to send
endless CONTINUATION frames, which is exactly what these probes do (``h2_probes``). After each
attack, a fresh connection asks for a page: a server that stopped answering is the finding.
The rapid reset (``h2_rapid_reset``) lasts seconds and measures a second client meanwhile, so
the check takes the machine to itself.
"""

from __future__ import annotations

import ssl
from typing import Any

from harness.checks import Check, CheckContext, Finding
from harness.checks.hazards._shared import GROUP
from harness.checks.hazards.h2_probes import (
    CONTINUATION_LIMIT_BYTES,
    SETTINGS_FLOOD,
    STREAMS_OVER_LIMIT,
    ZERO_WINDOW_HOLD_S,
    continuation_flood,
    settings_flood,
    stream_limit,
    unknown_frame,
    zero_window,
)
from harness.checks.hazards.h2_rapid_reset import RULE as RAPID_RESET_RULE
from harness.checks.hazards.h2_rapid_reset import rapid_reset
from harness.checks.hazards.h2_wire import ANSWER_TIMEOUT_S, answered, error_name
from harness.checks.protocols.instances import did_not_start, first_declared, running
from harness.launcher import Instance
from harness.process import StartError

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
