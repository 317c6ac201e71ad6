"""The sse-disconnect check: is an endless stream's generator stopped when its client leaves?"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

from harness.checks import Check, CheckContext, Finding
from harness.checks.streaming._shared import GROUP, IDIOM_RULE, LOG_EXCERPT_CHARS
from harness.checks.streaming.sse import read_events
from harness.endpoints import sse_idiom
from harness.process import StartError

ENDLESS_INTERVAL_S = 0.2
DISCONNECT_AFTER_S = 2.0
STOPPED_WITHIN_S = 5.0
RECORD_POLL_S = 0.05

STATE_FILE = "sse-events.jsonl"  # the contract of sampleproject/demo/sse_log.py
END_RECORDS = ("cancelled", "finished")

DISCONNECT_THRESHOLDS = (
    f"An endless stream (an event every {ENDLESS_INTERVAL_S:g} s) on an instance of its own; "
    f"the client closes the connection {DISCONNECT_AFTER_S:g} s after sending the request. "
    "The view appends 'cancelled' (CancelledError or GeneratorExit) or 'finished' to "
    f"$SAMPLEPROJECT_STATE_DIR/sse-events.jsonl. {IDIOM_RULE} The delay is counted from the "
    "moment the client gives up, so it includes the few milliseconds the client takes to "
    "close. Outcome: "
    f"yes = such a record within {STOPPED_WITHIN_S:g} s of the disconnect; no = none (the "
    "generator keeps running, or never started because the server buffers the whole stream, "
    "or the request failed)."
)


def stream_records(events_file: Path, stream: str) -> list[dict[str, Any]]:
    """The lifecycle records of ``stream`` (format: sampleproject/demo/sse_log.py)."""
    try:
        text = events_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line being written right now
        if isinstance(record, dict) and record.get("stream") == stream:
            records.append(record)
    return records


def wait_for_end_record(events_file: Path, stream: str, limit_s: float) -> dict[str, Any] | None:
    """The first 'cancelled' or 'finished' record of ``stream`` within ``limit_s`` seconds."""
    deadline = time.monotonic() + limit_s
    while True:
        for record in stream_records(events_file, stream):
            if record.get("event") in END_RECORDS:
                return record
        if time.monotonic() >= deadline:
            return None
        time.sleep(RECORD_POLL_S)


def _short_duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def judge_disconnect(
    client: dict[str, Any], end: dict[str, Any] | None, started: bool
) -> tuple[str, str]:
    """(outcome, summary) from what the client saw and the stream's end record, if any."""
    received = client["events_received"]
    if client["status"] is not None and client["status"] != 200:
        return "no", f"The stream failed: HTTP {client['status']}."
    if not client["limit_reached"]:
        reason = client["error"] or f"the server ended it after {received} events"
        return "no", f"The endless stream broke before the client left: {reason}."
    before = (
        f"after {received} events in {DISCONNECT_AFTER_S:g} s"
        if client["status"] == 200
        else f"no response had begun within {DISCONNECT_AFTER_S:g} s"
    )
    delay = end["at"] - client["left_at"] if end is not None else None
    if delay is not None and delay <= STOPPED_WITHIN_S:
        verb = "cancelled" if end["event"] == "cancelled" else "finished"
        return "yes", (
            f"Stopped: the stream's generator was {verb} {_short_duration(delay)} after the "
            f"client left ({before})."
        )
    running = "kept running" if started else "never started"
    return "no", (
        f"Not stopped: no 'cancelled' record within {STOPPED_WITHIN_S:g} s of the disconnect; "
        f"the generator {running} ({before})."
    )


def _run_disconnect(context: CheckContext) -> Finding:
    if context.launcher is None:
        return Finding("error", "No launcher to start an instance of its own for this check.")
    stream = f"disconnect-{uuid.uuid4().hex[:12]}"
    query = f"count=0&interval={ENDLESS_INTERVAL_S:g}&id={stream}"
    events_file = context.launcher.scratch / "state" / STATE_FILE
    idiom = sse_idiom(context.server.interface)
    path = context.endpoints[idiom.endpoint]
    try:
        with context.launcher.launch("http") as instance:
            url = instance.url(path, query)
            client = asyncio.run(read_events(url, DISCONNECT_AFTER_S))
            end = wait_for_end_record(events_file, stream, STOPPED_WITHIN_S)
            records_while_running = stream_records(events_file, stream)
    except StartError as error:
        return Finding(
            "error",
            f"The instance for this check did not start: {error.reason}"[:500],
            {"log_tail": error.log_tail},
        )
    started = any(record.get("event") == "started" for record in records_while_running)
    outcome, summary = judge_disconnect(client, end, started)
    after_stop = stream_records(events_file, stream)
    if end is None and any(record.get("event") in END_RECORDS for record in after_stop):
        summary += " It ended only when the server was stopped."
    summary += f" From a {idiom.generator} generator ({path}), the {idiom.interface.upper()} idiom."
    evidence = {
        "instance": instance.describe(),
        "shutdown": instance.shutdown.as_record() if instance.shutdown else None,
        "path": path,
        "query": query,
        "idiom": idiom.as_record(),
        "disconnect_after_s": DISCONNECT_AFTER_S,
        "client": client,
        "end_record": end,
        "seconds_from_disconnect_to_end_record": end["at"] - client["left_at"] if end else None,
        "records_while_running": records_while_running,
        "records_after_server_stopped": after_stop,
        "server_log": instance.log_text()[instance.log_offset :][-LOG_EXCERPT_CHARS:],
    }
    return Finding(outcome, summary, evidence)


CHECK = Check(
    timed=True,
    id="sse-disconnect",
    title="Stream stopped when the client leaves",
    group=GROUP,
    question=(
        f"When the client of an endless event stream disconnects after "
        f"{DISCONNECT_AFTER_S:g} s, is the server-side generator cancelled or finished "
        f"within {STOPPED_WITHIN_S:g} s?"
    ),
    thresholds=DISCONNECT_THRESHOLDS,
    run=_run_disconnect,
)
