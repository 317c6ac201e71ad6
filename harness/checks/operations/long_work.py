"""The long-work check: does a request that works a minute, and a stream that lasts a minute,
run to their end, while short requests keep being answered beside them?

A server's timeouts decide it. Gunicorn's arbiter kills a worker whose heartbeat has been
silent for ``--timeout`` (30 s by default); a sync worker beats only between requests, so any
request longer than that is cut with its worker (benoitc/gunicorn#1186), while its gthread,
gevent and ASGI workers beat from their main loop and are never killed for a long request
(gunicorn/workers/sync.py and gthread.py of the pinned 27.0.1). Other servers close a
connection whose backend stays silent, or have no such timeout at all.

On the shared instance (the production sizing), two long pieces start together: one GET of
the sample project's /disconnect/sync view, a sync view that works ``LONG_WORK_S`` in
``TICKS`` steps and then answers with JSON saying it completed (it records its steps in
demo/disconnect_log.py's file, so the evidence says whether the work itself or only its
answer was cut), and one server-sent-events stream of the interface's idiom (/sse/sync, a
sync generator, under WSGI; /sse, an async one, under ASGI) with an event every
``LONG_WORK_S / TICKS`` over the same time. Meanwhile one client sends a short GET of
/json/sync every ``SHORT_INTERVAL_S``, one at a time, so that no more requests are out than
the server's declared capacity. A server that cuts the work by a default it documents and
lets one raise declares that setting as an option for this check (``[options.<id>]`` with
``checks = ["long-work"]`` in its definition), and the check runs again with it.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from harness.checks import Check, CheckContext, Finding
from harness.checks.operations._shared import GROUP
from harness.checks.operations.client_disconnect import RECORDS_FILE, request_records
from harness.checks.operations.long_work_clients import fetch, keep_sending, read_events
from harness.definitions import OptionVariant, ServerDefinition

CHECK_ID = "long-work"
LONG_WORK_S = 60.0  # what the issue asks: a minute of work, longer than common defaults
TICKS = 60  # the view's steps and the stream's intervals: a step and an event each second
# How long after LONG_WORK_S the clients wait for the end of a long piece before giving up.
ANSWER_GRACE_S = 15.0
# After the planned end of the work, before its records are read: the view records its end
# just before it answers.
VIEW_SETTLE_S = 0.5
SHORT_INTERVAL_S = 0.5
SHORT_CLIENTS = 1  # short requests out at once: with the two long ones, within any capacity
LONG_PIECES = 2
# A short request unanswered for this long has starved: ten times what it needs on any
# configuration here even with both cores busy.
SHORT_TIMEOUT_S = 5.0
LOG_EXCERPT_CHARS = 4000
# Lines of the server's log that tell of a timeout or of a worker stopped by a signal
# (Gunicorn's "WORKER TIMEOUT", uWSGI's "HARAKIRI", "was sent SIGKILL", ...), quoted in the
# summary as what names the timeout.
# Whole words only (a path such as /srv/ops-timeouts/ is no cue), and no traceback's "File"
# lines, which name functions (handle_abort) rather than what happened.
LOG_CUES = re.compile(r"\b(?:time ?out|timed out|harakiri|SIGKILL|SIGABRT|killed)\b", re.IGNORECASE)
TRACEBACK_FRAME = re.compile(r'^\s*File "')
LOG_CUES_KEPT = 5
LOG_CUES_SUMMARISED = 2
ENDPOINTS = {
    "request": {"wsgi": "disconnect_sync", "asgi": "disconnect_sync"},
    "stream": {"wsgi": "sse_sync", "asgi": "sse"},
}
SHORT_ENDPOINT = "json_sync"

THRESHOLDS = (
    "On the shared instance (sized as deployed), two long pieces of work start together: one "
    f"GET of a sync view that works {LONG_WORK_S:g} s ({TICKS} steps of "
    f"{LONG_WORK_S / TICKS:g} s, each recorded by the view) and then answers with JSON saying "
    "it completed, and one server-sent-events stream of the interface's idiom (a sync "
    f"generator under WSGI, an async one under ASGI) that sends {TICKS + 1} events "
    f"{LONG_WORK_S / TICKS:g} s apart (the first at once, the last {LONG_WORK_S:g} s in). "
    f"Meanwhile one client sends a short GET of /json/sync every {SHORT_INTERVAL_S:g} s, one "
    "at a time (so that no more requests are out than the server's declared capacity; a "
    f"configuration sized for fewer than {LONG_PIECES + SHORT_CLIENTS} requests at once is "
    "not-applicable), each on a connection of its own, until both long pieces have ended and "
    "the planned time of the work has passed (work cut early is watched for its whole time "
    "all the same, and the view's records then say whether the work went on). The long "
    "request ran to its end when it answered 200 with the view's whole JSON; the stream when "
    "every event arrived and the response ended cleanly. The clients wait up to "
    f"{LONG_WORK_S + ANSWER_GRACE_S:g} s. A short request starves when it fails or has no "
    f"answer within {SHORT_TIMEOUT_S:g} s. Outcome: yes = both long pieces ran to their end "
    "and every short request was answered; partial = the short requests were answered, but a "
    "long piece was cut (a closed or reset connection, an error status, a truncated body) and "
    "the server documents a setting that raises the timeout, declared as an option of this "
    "check and tried as well; no = a long piece was cut with no such setting left to raise, "
    "or a short request starved. The evidence gives each piece's end (how, and seconds after "
    "it started), the events that arrived and when, the view's own steps, the short "
    "requests' failures and worst latency, and the server's log lines that name a timeout or "
    "a killed worker."
)


def options_left(definition: ServerDefinition) -> list[OptionVariant]:
    """The documented settings declared for this check that the server is not already running
    with (when the check runs again with an option, its command is the running one)."""
    running = definition.commands.get("http")
    return [
        option
        for option in definition.options_for(CHECK_ID)
        if option.commands.get("http") != running
    ]


def request_ran_to_end(result: dict[str, Any], body: bytes) -> bool:
    """Whether the long request answered 200 with the view's whole answer."""
    if result["ended"] != "complete":
        return False
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and answer.get("completed") is True


def stream_ran_to_end(result: dict[str, Any], events: int) -> bool:
    return result["ended"] == "complete" and result["events"] >= events


def short_summary(sent: list[dict[str, Any]]) -> dict[str, Any]:
    """The short requests' count, how many were answered (200 within the timeout), their
    failures by how they ended, and the worst latency of all of them."""
    failures = [
        request for request in sent if request["ended"] != "complete" or request["status"] != 200
    ]
    latencies = [request["latency_s"] for request in sent]
    return {
        "sent": len(sent),
        "answered": len(sent) - len(failures),
        "failed": len(failures),
        "failures": failures,
        "worst_latency_s": max(latencies) if latencies else None,
        "slowest": sorted(sent, key=lambda request: request["latency_s"], reverse=True)[:5],
    }


def log_cues(log: str) -> list[str]:
    """The log lines that tell of a timeout or a killed worker, the first few."""
    found = [
        line.strip()
        for line in log.splitlines()
        if LOG_CUES.search(line) and not TRACEBACK_FRAME.match(line)
    ]
    return [line[:300] for line in found[:LOG_CUES_KEPT]]


def _how(piece: dict[str, Any]) -> str:
    words = {
        "error-status": f"status {piece['status']}",
        "closed-before-answer": "the connection closed before any answer",
        "reset": "the connection was reset",
        "truncated": "the body was truncated",
        "timed-out": f"nothing arrived for the client's {LONG_WORK_S + ANSWER_GRACE_S:g} s",
        "connect-error": "no connection",
        "error": piece.get("error") or "an error",
        # Ended as its framing says a response ends, but before the work's end.
        "complete": "the response ended before the work's end",
    }
    return words[piece["ended"]]


def _cut_words(request: dict[str, Any], stream: dict[str, Any], events: int) -> list[str]:
    cuts = []
    if not request["ran_to_end"]:
        cuts.append(
            f"the {LONG_WORK_S:g} s request was cut {request['ended_after_s']:.1f} s after it "
            f"started ({_how(request)})"
        )
    if not stream["ran_to_end"]:
        cuts.append(
            f"the stream was cut after {stream['ended_after_s']:.1f} s ({_how(stream)}, "
            f"{stream['events']} of {events} events)"
        )
    return cuts


def judge(
    request: dict[str, Any],
    stream: dict[str, Any],
    shorts: dict[str, Any],
    cues: list[str],
    left: list[OptionVariant],
    events: int,
    running_with: Sequence[OptionVariant] = (),
) -> tuple[str, str]:
    """(outcome, summary) from what the three clients saw, the log's cues, the documented
    settings left to raise and those the server already runs with."""
    cuts = _cut_words(request, stream, events)
    worst = shorts["worst_latency_s"]
    worst_words = "none sent" if worst is None else f"the slowest took {worst:.2f} s"
    logged = f"; the server logged: {' | '.join(cues[:LOG_CUES_SUMMARISED])}" if cues else ""
    if shorts["failed"] or not shorts["sent"]:
        cut_words = f"; also {', '.join(cuts)}" if cuts else ""
        return "no", (
            f"Short requests starved while the long work ran: {shorts['failed']} of "
            f"{shorts['sent']} failed or waited over {SHORT_TIMEOUT_S:g} s ({worst_words})"
            f"{cut_words}{logged}."
        )
    answered = f"all {shorts['sent']} short requests were answered ({worst_words})"
    if cuts:
        cut_text = "; ".join(cuts)
        cut_text = cut_text[0].upper() + cut_text[1:]
        if left:
            settings = ", ".join(option.label for option in left)
            return "partial", (
                f"{cut_text}{logged}; {answered}. The server documents a setting that raises "
                f"the timeout, tried as an option: {settings}."
            )
        if running_with:
            settings = ", ".join(option.label for option in running_with)
            return "no", (
                f"{cut_text}{logged}; {answered}. It was cut though the server ran with the "
                f"documented setting that raises the timeout: {settings}."
            )
        return "no", (
            f"{cut_text}{logged}; {answered}. No documented setting to raise it is declared."
        )
    return "yes", (
        f"Both ran to their end: the request answered after {request['ended_after_s']:.1f} s "
        f"and the stream sent all {stream['events']} events over "
        f"{stream['ended_after_s']:.1f} s; {answered}."
    )


def view_record(records_file: Path | None, request_id: str) -> dict[str, Any] | None:
    """What the long view itself recorded by the planned end of its work: its steps,
    whether it completed, whether its finally block ran (None when the instance keeps no
    records). A view whose answer was cut may have worked on, or been stopped with its
    worker."""
    if records_file is None:
        return None
    records = request_records(records_file, request_id)
    events = [record.get("event") for record in records]
    return {
        "started": "started" in events,
        "steps": events.count("step"),
        "completed": "completed" in events,
        "finally": "finally" in events,
    }


def _run(context: CheckContext) -> Finding:
    interface = context.server.interface
    capacity = context.capacity()
    evidence: dict[str, Any] = {
        "instance": context.shared.describe(),
        "interface": interface,
        "sizing": context.capacity_text(),
        "long_work_s": LONG_WORK_S,
        "ticks": TICKS,
        "short_interval_s": SHORT_INTERVAL_S,
        "short_timeout_s": SHORT_TIMEOUT_S,
    }
    if capacity is not None and capacity < LONG_PIECES + SHORT_CLIENTS:
        return Finding(
            "not-applicable",
            f"Sized for fewer than {LONG_PIECES + SHORT_CLIENTS} requests at once "
            f"({context.capacity_text()}): the two long pieces leave no room for a short one.",
            evidence,
        )
    step_s = LONG_WORK_S / TICKS
    events = TICKS + 1
    request_id = f"long-{uuid.uuid4().hex[:12]}"
    request_path = context.endpoints[ENDPOINTS["request"][interface]]
    request_query = f"id={request_id}&steps={TICKS}&interval={step_s:g}"
    stream_path = context.endpoints[ENDPOINTS["stream"][interface]]
    stream_query = f"id=long-{uuid.uuid4().hex[:12]}&count={events}&interval={step_s:g}"
    request_url = context.shared.url(request_path, request_query)
    stream_url = context.shared.url(stream_path, stream_query)
    limit_s = LONG_WORK_S + ANSWER_GRACE_S
    log_offset = len(context.shared.log_text())
    stop_short = threading.Event()
    with ThreadPoolExecutor(max_workers=LONG_PIECES + SHORT_CLIENTS) as pool:
        shorts_future = pool.submit(
            keep_sending,
            context.url(SHORT_ENDPOINT),
            SHORT_INTERVAL_S,
            SHORT_TIMEOUT_S,
            stop_short,
        )
        began = time.monotonic()
        request_future = pool.submit(fetch, request_url, limit_s)
        stream_future = pool.submit(read_events, stream_url, limit_s, limit_s)
        try:
            request, body = request_future.result()
            stream = stream_future.result()
            # Work cut early is watched for its whole minute all the same: the short requests
            # meet the server as it recovers (a replaced worker), and the view's records then
            # say whether the work itself went on after its answer was cut.
            time.sleep(max(0.0, began + LONG_WORK_S + VIEW_SETTLE_S - time.monotonic()))
        finally:
            stop_short.set()
        shorts = short_summary(shorts_future.result())
    request["ran_to_end"] = request_ran_to_end(request, body)
    stream["ran_to_end"] = stream_ran_to_end(stream, events)
    state_dir = context.shared.state_dir
    request["view"] = view_record(state_dir / RECORDS_FILE if state_dir else None, request_id)
    log = context.shared.log_text()[log_offset:]
    cues = log_cues(log)
    left = options_left(context.server)
    running_with = [option for option in context.server.options_for(CHECK_ID) if option not in left]
    outcome, summary = judge(request, stream, shorts, cues, left, events, running_with)
    evidence.update(
        {
            "request": {"path": request_path, "query": request_query, **request},
            "stream": {
                "path": stream_path,
                "query": stream_query,
                "events_expected": events,
                **stream,
            },
            "short_requests": {"path": context.endpoints[SHORT_ENDPOINT], **shorts},
            "options_left": [option.id for option in left],
            "running_with": [option.id for option in running_with],
            "log_cues": cues,
            "server_log": log[-LOG_EXCERPT_CHARS:],
        }
    )
    return Finding(outcome, summary, evidence)


CHECK = Check(
    timed=True,
    id=CHECK_ID,
    title="Long work against timeouts",
    group=GROUP,
    question=(
        f"Do a sync request that works {LONG_WORK_S:g} s and a {LONG_WORK_S:g} s event stream "
        "run to their end, while short requests beside them keep being answered?"
    ),
    thresholds=THRESHOLDS,
    run=_run,
)
