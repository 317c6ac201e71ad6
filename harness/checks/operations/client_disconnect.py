"""The client-disconnect check: when a client gives up in the middle of a request, does the server
stop the abandoned work where it can, and does Django hear that the request ended?

A client that times out and retries leaves its first request running; if the server never stops
it, retries fill every worker and every database connection. What a server can do differs by
interface. Under ASGI it tells Django the client left (``http.disconnect``), and Django (5.0 and
later) cancels an async view or stream; under WSGI a write that fails lets it close a stream's
iterator, and nothing else. A sync view holds its thread to its end under any server, and Django
cancels no database query. What every server must do is let Django end the request: close the
WSGI iterable, or let Django's ASGI handler finish, so that ``request_finished`` fires and
Django closes the request's database connection.

The client leaves each of the sample project's /disconnect/* views (demo/views/disconnect.py)
in the middle of its work, on the shared instance (the production sizing; a few requests side
by side, never more than the server's declared capacity), and reads the records the views and
Django's signal write (demo/disconnect_log.py). A Django-decided part (work that runs to its end
under any server) never lowers the outcome: every verdict below yes is the server's doing.
"""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.checks import Check, CheckContext, Finding
from harness.checks.operations._shared import GROUP
from harness.checks.operations.leaving_client import AbandonedRequest

STEPS = 50
STEP_INTERVAL_S = 0.1
WORK_S = STEPS * STEP_INTERVAL_S
LEAVE_AFTER_S = 0.5  # after the work started: the client watches the records for it
# A request whose view has not started by then is left at once: a cold worker process of some
# configurations takes a few tenths of a second to import Django's views on its first request.
START_WITHIN_S = 5.0
# Work left running goes on for WORK_S - LEAVE_AFTER_S (4.5 s) after the client left: longer
# than the few seconds after which a server may cancel a request whose client has gone (Gunicorn's
# asgi worker: --asgi-disconnect-grace-period, 3 s by default), so a cancellation that cuts
# Django's end-of-request cleanup short shows. Stopped work: its last step or its cancellation
# within STOPPED_WITHIN_S of the client leaving.
STOPPED_WITHIN_S = 0.75
# How long after its natural end the work's cleanup may take (a WSGI server writes the finished
# response to the gone client, then closes it): records are awaited until
# WORK_S - LEAVE_AFTER_S + SETTLE_S after the client left.
SETTLE_S = 1.5
# Once cleanup is seen, a last look this much later catches steps still being recorded.
TRAILING_S = 2 * STEP_INTERVAL_S
RECORD_POLL_S = 0.05
RECORDS_FILE = "disconnects.jsonl"  # the contract of sampleproject/demo/disconnect_log.py
LOG_EXCERPT_CHARS = 4000
DATABASE = "SQLite"  # the capture's database for the checks (harness/prepared.py)
# What became of one abandoned request (scenario_verdict), and whose doing it was; the evidence
# schema's enums are tested against these.
VERDICTS = (
    "stopped",
    "ran-to-end",
    "stopped-late",
    "no-cleanup",
    "not-started",
    "started-after-leaving",
)
LEAKS = ("not-started", "no-cleanup")
DECIDERS = ("server", "django")


@dataclass(frozen=True)
class Scenario:
    """One kind of abandoned work: the view each interface runs, and whether the server has a
    way to have it stopped under that interface (else only Django's cleanup is the server's)."""

    id: str
    title: str
    endpoints: dict[str, str]  # interface -> endpoint name in endpoints.toml
    stoppable: frozenset[str]  # the interfaces under which the server can have it stopped
    unstoppable_because: str  # why not, under the others
    # Under WSGI Django runs an async view in an event loop of its own; under a greenlet server
    # (gevent) a sync view of the same process then finds that loop running and refuses to
    # touch the database (SynchronousOnlyOperation), so the async view runs after the others.
    runs_alone: bool = False

    def endpoint(self, interface: str) -> str:
        return self.endpoints[interface]

    def can_stop(self, interface: str) -> bool:
        return interface in self.stoppable


BOTH = frozenset({"wsgi", "asgi"})
SCENARIOS = (
    Scenario(
        id="sync-view",
        title="the sync view",
        endpoints={"wsgi": "disconnect_sync", "asgi": "disconnect_sync"},
        stoppable=frozenset(),
        unstoppable_because="a sync view holds its thread to its end under any server",
    ),
    Scenario(
        id="query",
        title="the database query",
        endpoints={"wsgi": "disconnect_query", "asgi": "disconnect_query_async"},
        stoppable=frozenset(),
        unstoppable_because=(
            "Django cancels no running query (under ASGI it runs in Django's sync thread)"
        ),
    ),
    Scenario(
        id="stream",
        title="the stream",
        endpoints={"wsgi": "disconnect_stream_sync", "asgi": "disconnect_stream_async"},
        stoppable=BOTH,
        unstoppable_because="",
    ),
    Scenario(
        id="async-view",
        title="the async view",
        endpoints={"wsgi": "disconnect_async", "asgi": "disconnect_async"},
        stoppable=frozenset({"asgi"}),
        unstoppable_because="WSGI has no way to tell Django the client left",
        runs_alone=True,
    ),
)

THRESHOLDS = (
    f"On the shared instance (sized as deployed), a client closes its connection in order (FIN) "
    f"{LEAVE_AFTER_S:g} s into work of {STEPS} steps {STEP_INTERVAL_S:g} s apart ({WORK_S:g} s; "
    "it watches the records for the work's start, and leaves a request whose view has not "
    f"started within {START_WITHIN_S:g} s): a sync view, one slow {DATABASE} query (a row "
    "per step; from a sync view under WSGI, from an async view under ASGI) and a stream (a sync "
    "generator under WSGI, an async one under ASGI) side by side, as many at once as the "
    "server's declared capacity allows, then an async view. The views record each step, their "
    "end (completed or cancelled), their finally block and Django's request_finished signal in "
    "$SAMPLEPROJECT_STATE_DIR/disconnects.jsonl. Work is stopped when it did not complete and "
    f"no step or cancellation is recorded later than {STOPPED_WITHIN_S:g} s after the client "
    f"left; records are awaited until {WORK_S - LEAVE_AFTER_S + SETTLE_S:g} s after it left. "
    f"Work left running goes on {WORK_S - LEAVE_AFTER_S:g} s after the client left, longer than a "
    "server's grace of a few seconds before it cancels a request whose client has gone. A "
    "server can have work stopped only where it has a way in: under ASGI the async view and the "
    "stream (it tells Django the client left, and Django cancels them); under WSGI the stream "
    "(a failed write lets it close the iterator). The sync view and the query run to their end "
    "under any server (decided by Django) and count only for their cleanup. Outcome: yes = all "
    "the work the server can stop was stopped, and the finally block and request_finished ran "
    "for every request; partial = nothing leaked, but work the server could have stopped ran "
    "on; no = a finally block or request_finished never ran (Django's end-of-request cleanup, "
    "which closes database connections, was skipped), or a view never started; error = a view "
    f"started only after its client had left (more than {START_WITHIN_S:g} s after the request)."
)


def request_records(records_file: Path, request: str) -> list[dict[str, Any]]:
    """The records of ``request`` (format: sampleproject/demo/disconnect_log.py)."""
    try:
        text = records_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line being written right now
        if isinstance(record, dict) and record.get("request") == request:
            records.append(record)
    return records


def cleaned_up(records: list[dict[str, Any]]) -> bool:
    """Whether the work has ended and both cleanups ran: nothing more is expected."""
    events = {record.get("event") for record in records}
    return {"finally", "request_finished"} <= events and bool(events & {"completed", "cancelled"})


def wait_for_event(
    records_file: Path, request: str, event: str, limit_s: float
) -> dict[str, Any] | None:
    """The request's first ``event`` record, if it comes within ``limit_s`` seconds."""
    deadline = time.monotonic() + limit_s
    while True:
        found = _first(request_records(records_file, request), event)
        if found is not None or time.monotonic() >= deadline:
            return found
        time.sleep(RECORD_POLL_S)


def wait_for_cleanup(records_file: Path, request: str, deadline: float) -> list[dict[str, Any]]:
    """The request's records once its cleanup is seen (plus a last look for trailing steps), or
    at ``deadline`` (``time.monotonic()``) without it."""
    while True:
        records = request_records(records_file, request)
        if cleaned_up(records):
            time.sleep(TRAILING_S)
            return request_records(records_file, request)
        if time.monotonic() >= deadline:
            return records
        time.sleep(RECORD_POLL_S)


def _first(records: list[dict[str, Any]], event: str) -> dict[str, Any] | None:
    return next((record for record in records if record.get("event") == event), None)


def _since(record: dict[str, Any] | None, moment: float) -> float | None:
    return None if record is None else record["at"] - moment


def scenario_verdict(
    records: list[dict[str, Any]], left_at: float, can_stop: bool
) -> dict[str, Any]:
    """What happened to one abandoned request, from its records: when each thing happened
    (seconds after the client left) and the verdict, one of ``stopped``, ``ran-to-end``,
    ``stopped-late``, ``no-cleanup``, ``not-started`` and ``started-after-leaving``;
    ``decided_by`` says whose doing the verdict is (the server's, or Django's where the work
    cannot be stopped)."""
    steps = [record["at"] - left_at for record in records if record.get("event") == "step"]
    cancelled = _first(records, "cancelled")
    finished = _first(records, "request_finished")
    seconds = {
        "started": _since(_first(records, "started"), left_at),
        "last_step": max(steps) if steps else None,
        "completed": _since(_first(records, "completed"), left_at),
        "cancelled": _since(cancelled, left_at),
        "finally": _since(_first(records, "finally"), left_at),
        "request_finished": _since(finished, left_at),
    }
    work_ended = max(
        (value for value in (seconds["last_step"], seconds["cancelled"]) if value is not None),
        default=None,
    )
    if seconds["started"] is None:
        verdict = "not-started"
    elif seconds["started"] > 0:
        verdict = "started-after-leaving"  # it waited for a worker: not the situation measured
    elif seconds["finally"] is None or seconds["request_finished"] is None:
        verdict = "no-cleanup"
    elif seconds["completed"] is not None:
        verdict = "ran-to-end"
    elif work_ended is not None and work_ended <= STOPPED_WITHIN_S:
        verdict = "stopped"
    else:
        verdict = "stopped-late"
    leaked = verdict in LEAKS
    return {
        "verdict": verdict,
        "decided_by": "server" if can_stop or leaked else "django",
        "seconds_after_leaving": seconds,
        "steps": len(steps),
        "steps_after_leaving": sum(1 for step in steps if step > 0),
        "cancelled_by": cancelled.get("how") if cancelled else None,
        "connection_open_after_request_finished": finished.get("connection_open")
        if finished
        else None,
    }


def _short(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    seconds = max(seconds, 0.0)
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def leak_summary(leaks: list[dict[str, Any]]) -> str:
    """What never happened, by kind: a view that never started, a finally block or
    request_finished that never ran."""
    limit = WORK_S - LEAVE_AFTER_S + SETTLE_S

    def titles(found: list[dict[str, Any]]) -> str:
        return _listing([result["title"] for result in found])

    def missing(key: str) -> list[dict[str, Any]]:
        return [
            result
            for result in leaks
            if result["verdict"] == "no-cleanup" and result["seconds_after_leaving"][key] is None
        ]

    parts = []
    if no_signal := missing("request_finished"):
        parts.append(f"request_finished never fired for {titles(no_signal)}")
    if no_finally := missing("finally"):
        parts.append(f"the finally block of {titles(no_finally)} never ran")
    summary = "Leak: " + "; ".join(parts)
    if parts:
        summary += (
            f" (awaited until {limit:g} s after the client left), so Django's end-of-request "
            "cleanup, which closes database connections, was skipped"
        )
    if never := [result for result in leaks if result["verdict"] == "not-started"]:
        statuses = sorted({str(result["client"]["status"]) for result in never})
        summary += ("; " if parts else "") + (
            f"{titles(never)} never started (status seen: {', '.join(statuses)})"
        )
    return summary + "."


def judge(results: list[dict[str, Any]], interface: str) -> tuple[str, str]:
    """(outcome, summary) from every scenario's result."""
    count = len(results)
    leaks = [result for result in results if result["verdict"] in LEAKS]
    if leaks:
        return "no", leak_summary(leaks)
    late = [result for result in results if result["verdict"] == "started-after-leaving"]
    if late:
        return "error", (
            f"Not measured: {_listing([result['title'] for result in late])} started only after "
            f"the client had left, more than {START_WITHIN_S:g} s after the request."
        )
    stoppable = [result for result in results if result["can_stop"]]
    ran_on = [result for result in stoppable if result["verdict"] != "stopped"]
    unstoppable = [result for result in results if not result["can_stop"]]
    cleanup = f"the finally block and request_finished ran for all {count} requests"
    if ran_on:
        described = [f"{result['title']} ({_end_words(result)})" for result in ran_on]
        return "partial", (
            f"Not stopped though the server could have: {_listing(described)}; {cleanup}."
        )
    stopped = [f"{result['title']} {_short(_stopped_at(result))} after" for result in stoppable]
    summary = f"Stopped when the client left: {_listing(stopped)}"
    if unstoppable:
        summary += (
            f"; {_listing([result['title'] for result in unstoppable])} ran to their end, as "
            f"under any {interface.upper()} server"
        )
    return "yes", f"{summary}; {cleanup}."


def _end_words(result: dict[str, Any]) -> str:
    seconds = result["seconds_after_leaving"]
    if result["verdict"] == "ran-to-end":
        return f"ran to its end, {_short(seconds['completed'])} after the client left"
    return f"stopped only {_short(_stopped_at(result))} after the client left"


def _stopped_at(result: dict[str, Any]) -> float | None:
    """When stopped work ended: its cancellation, else its last step."""
    seconds = result["seconds_after_leaving"]
    return seconds["cancelled"] if seconds["cancelled"] is not None else seconds["last_step"]


def run_scenario(context: CheckContext, scenario: Scenario, records_file: Path) -> dict[str, Any]:
    """Leave one request in the middle of its work and collect what happened next."""
    interface = context.server.interface
    request = f"{scenario.id}-{uuid.uuid4().hex[:12]}"
    path = context.endpoints[scenario.endpoint(interface)]
    query = f"id={request}&steps={STEPS}&interval={STEP_INTERVAL_S:g}"
    with AbandonedRequest(context.shared.url(path, query)) as pending:
        started = wait_for_event(records_file, request, "started", START_WITHIN_S)
        if started is not None:
            time.sleep(max(0.0, started["at"] + LEAVE_AFTER_S - time.time()))
        client = pending.leave()
    left_running_s = WORK_S - LEAVE_AFTER_S
    records = wait_for_cleanup(records_file, request, time.monotonic() + left_running_s + SETTLE_S)
    can_stop = scenario.can_stop(interface)
    return {
        "id": scenario.id,
        "title": scenario.title,
        "path": path,
        "query": query,
        "can_stop": can_stop,
        "why_not": None if can_stop else scenario.unstoppable_because,
        **scenario_verdict(records, client["left_at"], can_stop),
        "client": client,
        "records": [
            _compact(record, client["left_at"]) for record in records if record["event"] != "step"
        ],
    }


def _compact(record: dict[str, Any], left_at: float) -> dict[str, Any]:
    """A record with its time as seconds after the client left, for the evidence."""
    kept = {key: value for key, value in record.items() if key not in ("request", "at")}
    return {**kept, "after_leaving_s": round(record["at"] - left_at, 4)}


def batches(capacity: int | None) -> list[tuple[Scenario, ...]]:
    """The scenarios in the groups that run side by side, one group after another: each takes
    up to about WORK_S + SETTLE_S, so a group saves time, but a request must reach its view before
    its client leaves, so a group holds no more requests than the server serves at once as
    deployed (``capacity``; None: no bound declared)."""
    together = [scenario for scenario in SCENARIOS if not scenario.runs_alone]
    size = len(together) if capacity is None else max(1, min(capacity, len(together)))
    groups = [tuple(together[start : start + size]) for start in range(0, len(together), size)]
    return groups + [(scenario,) for scenario in SCENARIOS if scenario.runs_alone]


def _run(context: CheckContext) -> Finding:
    state_dir = context.shared.state_dir
    if state_dir is None:
        return Finding("error", "The shared instance does not say where its records go.")
    records_file = state_dir / RECORDS_FILE
    interface = context.server.interface
    log_offset = len(context.shared.log_text())
    groups = batches(context.capacity())
    results = []
    for group in groups:
        with ThreadPoolExecutor(max_workers=len(group)) as pool:
            results.extend(
                pool.map(lambda scenario: run_scenario(context, scenario, records_file), group)
            )
    outcome, summary = judge(results, interface)
    evidence = {
        "instance": context.shared.describe(),
        "interface": interface,
        "sizing": context.capacity_text(),
        "database": DATABASE,
        "leave_after_s": LEAVE_AFTER_S,
        "steps": STEPS,
        "step_interval_s": STEP_INTERVAL_S,
        "stopped_within_s": STOPPED_WITHIN_S,
        "batches": [[scenario.id for scenario in group] for group in groups],
        "scenarios": results,
        "server_log": context.shared.log_text()[log_offset:][-LOG_EXCERPT_CHARS:],
    }
    return Finding(outcome, summary, evidence)


CHECK = Check(
    timed=True,
    id="client-disconnect",
    title="Work stopped when the client leaves",
    group=GROUP,
    question=(
        f"When a client gives up {LEAVE_AFTER_S:g} s into a sync view, an async view, a "
        "database query and a stream, does the server stop the work it can stop, and does "
        "Django's request_finished (which closes database connections) fire for every request?"
    ),
    thresholds=THRESHOLDS,
    run=_run,
)
