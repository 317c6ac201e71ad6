"""What the live-load checks share: an event (a killed worker, a reload, a recycle) applied
to a server while it answers a fixed rate of requests, with one SSE stream and one WebSocket
held open, and what the clients and the server's process tree saw around it.

1. The highest rate the instance answers: a closed loop of openload over the pool of
   connections the load uses (``SHAPE.probe_s`` after a warm-up).
2. A fixed share of that rate (``SHAPE.rate_share``), an open model (openload: each request due
   on a schedule, timed from when it was due, so a stall is charged to every request behind
   it), on the interface's own JSON view; the SSE stream (the interface's idiom) and the
   WebSocket (where the configuration serves one) are opened first.
3. ``SHAPE.event_at_s`` into the measured window, the check's event; the server's children
   are polled meanwhile (psutil), so a worker's death and its replacement are timed.
4. From openload's per-request records: failures by kind, the p99 before, around and after the
   event, and the time until every request due was answered on time again.

One check module per event uses ``run_under_load``; it owns the judgement.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.benchmarks.openload.command import OpenloadRequest, openload_command
from harness.benchmarks.openload.records import RequestRecord, read_records
from harness.benchmarks.openload.run import TIMEOUT_MARGIN_S, run_openload
from harness.benchmarks.scenarios.h2load_common import native_json
from harness.benchmarks.tool_process import fresh_log_path, run_tool
from harness.checks import CheckContext
from harness.checks.operations import live_load_timeline as timeline
from harness.checks.operations.held_connections import HeldConnections
from harness.checks.operations.worker_processes import TreeWatch, descendants, serving_pids
from harness.checks.websocket import websocket_path
from harness.launcher import Instance

LOG_EXCERPT_CHARS = 4000
PROCESS_ENDPOINT = "process"
# Requests to /process side by side, on connections of their own, just before the event and
# after the load: the processes that run Django then (the workers).
PROBES = 12
# After the load, the server's children are looked at once more this long later.
SETTLE_S = 1.0
# The failed requests kept in the evidence, each with its times and connection (the first ones).
FAILED_KEPT = 50


@dataclass(frozen=True)
class LoadShape:
    """The load every live-load check runs (tests shorten it)."""

    rate_share: float = 0.25  # of the closed loop's maximum: well below capacity
    connections: int = 32  # openload's pool, for the closed loop and the fixed rate
    probe_s: float = 3.0  # the closed loop's window
    warmup_s: float = 1.0
    event_at_s: float = 5.0  # into the measured window
    after_s: float = 10.0  # of the window after the event
    around_s: float = 3.0  # the window "around" the event: its first seconds
    timeout_s: float = 5.0  # a request unanswered this long after it was sent has failed
    drain_s: float = 5.0
    # A request due after the event is on time when answered within NORMAL_FACTOR x the p99
    # before the event (at least NORMAL_FLOOR_MS); the run's last TAIL_S must be on time for
    # the server to be back.
    normal_factor: float = 3.0
    normal_floor_ms: float = 100.0
    tail_s: float = 2.0

    @property
    def duration_s(self) -> float:
        return self.event_at_s + self.after_s


SHAPE = LoadShape()


def shape_text(shape: LoadShape) -> str:
    """The load in words, for the checks' thresholds."""
    return (
        f"the configuration's highest rate (a closed loop of openload over {shape.connections} "
        f"connections, {shape.probe_s:g} s), then {shape.rate_share:.0%} of it as an open model "
        f"(requests due on a fixed schedule, each timed from when it was due, given up "
        f"{shape.timeout_s:g} s after it was sent) on the interface's JSON view for "
        f"{shape.duration_s:g} s after {shape.warmup_s:g} s of warm-up, with one SSE stream (an "
        "event every 0.5 s) and, where the configuration serves one, one WebSocket open; the "
        f"event {shape.event_at_s:g} s into the window. A request due after the event is on "
        f"time when answered within {shape.normal_factor:g} x the p99 before the event (at "
        f"least {shape.normal_floor_ms:g} ms); back to full rate is the moment from which each "
        f"second of requests (by due time) had no failure and no more than "
        f"{timeline.LATE_SHARE:.0%} late (one at least, as a shared machine delays a request now "
        f"and then); not back when such a second ended in the last {shape.tail_s:g} s; the p99 "
        f"is given before the event, in the {shape.around_s:g} s after it and after that"
    )


@dataclass
class Scene:
    """What an event may use: the instance under load, its clients' held connections, and the
    processes that answered /process just before (pid -> requests answered)."""

    instance: Instance
    held: HeldConnections
    serving: dict[int, int]

    @property
    def port(self) -> int:
        """The port the server listens on."""
        port = urlsplit(self.instance.base_url).port
        assert port is not None
        return port


Event = Callable[[Scene], dict[str, Any]]  # returns what it did, with "at_unix" when it acted


def held_urls(context: CheckContext, instance: Instance) -> tuple[str, str | None, str]:
    """The SSE stream of the interface's idiom, and the WebSocket (None under WSGI, with why)."""
    sse = "sse" if context.server.interface == "asgi" else "sse_sync"
    sse_url = instance.url(context.endpoints[sse])
    if context.server.interface != "asgi":
        return sse_url, None, "WSGI has no WebSocket"
    websocket_url = "ws" + instance.url(websocket_path(context)).removeprefix("http")
    return sse_url, websocket_url, ""


def maximum_rate(url: str, scratch: Path, shape: LoadShape) -> tuple[float | None, dict]:
    """The closed loop's answered rate, and its record."""
    request = OpenloadRequest(
        url=url,
        rate=0,
        connections=shape.connections,
        warmup_s=shape.warmup_s,
        duration_s=shape.probe_s,
        drain_s=shape.drain_s,
        timeout_s=shape.timeout_s,
    )
    measurement = run_openload(request, scratch)
    record = {"failure": measurement.failure, "metrics": measurement.metrics}
    rate = measurement.metrics.get("answered_per_s") if measurement.ok else None
    return (float(rate) if rate else None), record


class _Load(threading.Thread):
    """openload at the fixed rate, in a thread, its records kept."""

    def __init__(self, request: OpenloadRequest, scratch: Path) -> None:
        super().__init__(daemon=True)
        self.request = request
        self.log_path = fresh_log_path(scratch, "liveload-latencies-")
        self.records_path = fresh_log_path(scratch, "liveload-records-")
        self.command = openload_command(request, self.log_path, self.records_path)
        self.result: dict[str, Any] | None = None
        self.failure: str | None = None

    def run(self) -> None:
        try:
            finished = run_tool(self.command, self.request.longest_s + TIMEOUT_MARGIN_S)
            lines = finished.stdout.strip().splitlines()
            if finished.exit_code != 0 or not lines:
                tail = " | ".join(finished.stderr.strip().splitlines()[-3:]) or "no output"
                self.failure = f"openload ended without a result ({tail})"
                return
            self.result = json.loads(lines[-1])
        except Exception as error:  # reported as the run's failure, never lost
            self.failure = f"openload could not run: {type(error).__name__}: {error}"


def run_under_load(
    context: CheckContext,
    instance: Instance,
    event: Event,
    maximum: tuple[float | None, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The whole run around one event; the evidence, with ``failure`` set when nothing could
    be measured (no maximum rate, or openload without a result). ``maximum``: the closed
    loop's rate and record, measured by the caller on another instance (default: on this one).
    An event that acts at no moment (``at_unix`` None) leaves no figures, unless it says the
    window's start is its moment (``from_window_start``)."""
    assert context.launcher is not None
    shape = SHAPE
    scratch = context.launcher.scratch
    url = instance.url(context.endpoints[native_json(context.server)])
    evidence: dict[str, Any] = {
        "instance": instance.describe(),
        "sizing": context.capacity_text(),
        "shape": asdict(shape),
        "path": context.endpoints[native_json(context.server)],
        "failure": None,
    }
    highest, evidence["maximum"] = maximum or maximum_rate(url, scratch, shape)
    if highest is None:
        evidence["failure"] = f"no maximum rate measured: {evidence['maximum']['failure']}"
        return evidence
    rate = max(1.0, round(highest * shape.rate_share, 1))
    evidence["rate_per_s"] = rate
    request = OpenloadRequest(
        url=url,
        rate=rate,
        connections=shape.connections,
        warmup_s=shape.warmup_s,
        duration_s=shape.duration_s,
        drain_s=shape.drain_s,
        timeout_s=shape.timeout_s,
    )
    sse_url, websocket_url, no_websocket = held_urls(context, instance)
    root = instance.process.pid
    log_offset = len(instance.log_text())
    with HeldConnections(sse_url, websocket_url, no_websocket) as held:
        watch = TreeWatch(root)
        evidence["workers_before"] = _listed(watch.poll())
        load = _Load(request, scratch)
        began = time.monotonic()
        load.start()
        # The workers are asked halfway to the event: the probes take a while under load, and
        # the event must come when it is due.
        event_at = began + shape.warmup_s + shape.event_at_s
        time.sleep(max(0.0, event_at - shape.event_at_s / 2 - time.monotonic()))
        process_url = instance.url(context.endpoints[PROCESS_ENDPOINT])
        serving = dict(serving_pids(process_url, PROBES))
        time.sleep(max(0.0, event_at - time.monotonic()))
        evidence["serving_before"] = _served(serving)
        evidence["event"] = event(Scene(instance, held, serving))
        while load.is_alive():
            watch.until(time.monotonic() + 1.0)
        time.sleep(SETTLE_S)
        watch.poll()
        evidence["held"] = held.fates()
        evidence["serving_after"] = _served(dict(serving_pids(process_url, PROBES)))
    evidence["workers_after"] = _listed(descendants(root))
    evidence["server_alive"] = instance.process.exit_code() is None
    evidence["server_log"] = instance.log_text()[log_offset:][-LOG_EXCERPT_CHARS:]
    evidence["openload"] = {"command": load.command, "result": load.result}
    try:
        records = read_records(load.records_path) if load.result is not None else []
    finally:
        for path in (load.log_path, load.records_path):
            path.unlink(missing_ok=True)
    if load.result is None:
        evidence["failure"] = load.failure or "openload printed no result"
        return evidence
    window_start_unix = load.result["window_start_unix_ms"] / 1000
    evidence["tree_changes"] = [
        {
            "since_window_start_s": round(change["at_unix"] - window_start_unix, 3),
            "pids": change["pids"],
        }
        for change in watch.changes
    ]
    for fate in evidence["held"].values():
        ended = fate.pop("ended_at_unix")
        fate.pop("opened_at_unix")
        fate["ended_since_window_start_s"] = (
            None if ended is None else round(ended - window_start_unix, 3)
        )
    at_unix = evidence["event"].pop("at_unix", None)
    if at_unix is None and evidence["event"].get("from_window_start"):
        at_unix = window_start_unix
    if at_unix is None:
        evidence["event"]["at_s"] = evidence["figures"] = None
        return evidence
    evidence["event"]["at_s"] = round(at_unix - window_start_unix, 3)
    event_ms = (at_unix - window_start_unix) * 1000
    ended = evidence["event"].get("victim_connections")
    evidence["figures"] = figures(records, event_ms, rate, shape, ended)
    return evidence


def figures(
    records: list[RequestRecord],
    event_ms: float,
    rate: float,
    shape: LoadShape,
    ended: list[int] | None,
) -> dict[str, Any]:
    """The run's figures around the event (see the module's docstring); ``ended``: the
    clients' ports of the connections of the worker the event ended (None: it ended none)."""
    end_ms = shape.duration_s * 1000
    windows = timeline.windows(records, event_ms, shape.around_s * 1000, end_ms)
    before_p99 = windows[0]["p99_ms"]
    bound_ms = max(shape.normal_factor * (before_p99 or 0.0), shape.normal_floor_ms)
    failed = [record for record in records if not record.answered]
    lost = [
        record
        for record in failed
        if ended is not None and timeline.lost_with_the_worker(record, event_ms, ended)
    ]
    return {
        "due": len(records),
        "failed": len(failed),
        "failed_by_kind": timeline.failures_by_kind(records),
        "failed_with_the_ended_worker": len(lost),
        "failed_otherwise": len(failed) - len(lost),
        "failed_requests": [_failed_record(record, record in lost) for record in failed][
            :FAILED_KEPT
        ],
        "p99_ms": timeline.p99_ms([r.latency_ms for r in records if r.latency_ms is not None]),
        "tail": timeline.window(records, "tail", end_ms - shape.tail_s * 1000, end_ms),
        "windows": windows,
        "on_time_bound_ms": round(bound_ms, 3),
        "back_to_full_rate_after_s": timeline.back_to_normal_s(
            records, event_ms, bound_ms, 1000 / rate, end_ms, shape.tail_s * 1000
        ),
    }


def _failed_record(record: RequestRecord, lost: bool) -> dict[str, Any]:
    """One failed request in the evidence: seconds from the window's start, its connection."""

    def seconds(ms: float | None) -> float | None:
        return None if ms is None else round(ms / 1000, 4)

    return {
        "due_s": seconds(record.due_ms),
        "sent_s": seconds(record.sent_ms),
        "done_s": seconds(record.done_ms),
        "outcome": timeline.failure_name(record),
        "port": record.port,
        "lost_with_the_ended_worker": lost,
    }


def _served(serving: dict[int, int]) -> list[dict[str, int]]:
    return [{"pid": pid, "answered": count} for pid, count in sorted(serving.items())]


def _listed(processes: dict[int, str]) -> list[dict[str, Any]]:
    return [{"pid": pid, "command": command} for pid, command in sorted(processes.items())]


def replacement(evidence: dict[str, Any], gone: set[int]) -> dict[str, Any]:
    """Whether the server's children that ``gone`` names were replaced: each one gone, and as
    many children at the end as before; with when the count was whole again (seconds from the
    event on the window's time line)."""
    before = {process["pid"] for process in evidence["workers_before"]}
    after = {process["pid"] for process in evidence["workers_after"]}
    still_there = sorted(gone & after)
    replaced = not still_there and len(after) >= len(before) and bool(after - before)
    whole_at = None
    event_at = evidence["event"]["at_s"]
    if replaced and event_at is not None:
        for change in evidence.get("tree_changes", []):
            pids = set(change["pids"])
            at = change["since_window_start_s"]
            if at >= event_at and not (gone & pids) and len(pids) >= len(before):
                whole_at = round(at - event_at, 3)
                break
    return {
        "replaced": replaced,
        "still_there": still_there,
        "new": sorted(after - before),
        "count_before": len(before),
        "count_after": len(after),
        "whole_again_after_s": whole_at,
    }


def _ms(value: float | None) -> str:
    return "none answered" if value is None else f"{value:.0f} ms"


def failures_text(figures: dict[str, Any]) -> str:
    """ "3 of 1,250 requests failed (connection lost ... x 3)", or "none of 1,250 ... failed"."""
    if not figures["failed"]:
        return f"none of the {figures['due']:,} requests failed"
    kinds = ", ".join(f"{kind} x {count}" for kind, count in figures["failed_by_kind"].items())
    return f"{figures['failed']} of {figures['due']:,} requests failed ({kinds})"


def figures_text(evidence: dict[str, Any], around_an_event: bool = True) -> str:
    """The load and its figures in one clause, for a summary: the p99 before, around and after
    the event and when the full rate was back, or (``around_an_event`` False) the run's p99."""
    figures = evidence["figures"]
    load = (
        f"at {evidence['rate_per_s']:g} requests/s ({SHAPE.rate_share:.0%} of "
        f"{evidence['maximum']['metrics']['answered_per_s']:g}/s), {failures_text(figures)}; "
    )
    if not around_an_event:
        return load + f"p99 {_ms(figures['p99_ms'])}"
    back = figures["back_to_full_rate_after_s"]
    p99 = " / ".join(_ms(window["p99_ms"]) for window in figures["windows"])
    return (
        load
        + f"p99 {p99} before / around / after; "
        + (
            "not back to full rate by the end of the run"
            if back is None
            else f"back to full rate {back:g} s after the event"
        )
    )


HELD_NAMES = {"sse": "SSE stream", "websocket": "WebSocket"}


def held_text(evidence: dict[str, Any]) -> str:
    parts = []
    for kind, fate in evidence["held"].items():
        detail = f" ({fate['detail']})" if fate.get("detail") else ""
        parts.append(f"{HELD_NAMES[kind]} {fate['fate'].replace('-', ' ')}{detail}")
    return ", ".join(parts)


# Fates of a held connection that mean the server ended it, or it stopped delivering.
LOST = ("ended-cleanly", "closed", "reset", "stalled")


def lost_held(
    evidence: dict[str, Any], lost: tuple[str, ...], spared: set[int | None]
) -> list[str]:
    """The held connections whose fate is in ``lost``, unless a process of ``spared`` held
    them (the worker the event took away: their loss is the event's, not the server's)."""
    holders = evidence["event"].get("holders", {})
    return [
        f"the {HELD_NAMES[kind]} was {fate['fate'].replace('-', ' ')}"
        for kind, fate in evidence["held"].items()
        if fate["fate"] in lost and holders.get(kind) not in spared
    ]
