"""The graceful-reload check: when the server is sent its documented reload signal (how a deploy
picks up new code without a restart) while it answers a steady load, are all its workers
replaced without a failed request, and how long are requests late meanwhile?

The signal comes from the server's definition (``[operations] reload_signal``, with the page
that documents it and what the pinned version does on it, read from its source); a server that
declares none has no reload mechanism, and the check says so with that page. On an instance of
its own (``live_load``).
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from harness.checks import Check, CheckContext, Finding
from harness.checks.operations import live_load
from harness.checks.operations._shared import GROUP
from harness.checks.operations.held_connections import holder_of

# Every request on time again within this long after the signal: reloaded promptly.
RECOVERED_WITHIN_S = 5.0
# A held connection a reload cut without ending it (an ended stream, or one an old worker still
# serves, is what a graceful reload does).
CUT = ("closed", "reset", "stalled")

THRESHOLDS = (
    f"On an instance of its own sized as deployed: {live_load.shape_text(live_load.SHAPE)}. "
    "The event: the reload signal the server's definition declares ([operations] "
    "reload_signal, with the page that documents it) sent to the process the harness started. "
    f"Reloaded: each process that answered /process ({live_load.PROBES} requests side by "
    "side, each on a connection of its own) just before the signal is gone at the end, but one "
    "that holds the SSE stream or the WebSocket may still be draining it, as a graceful reload "
    "lets it, other processes answer the same requests after the load, and at least as many "
    "processes were started under the server as workers answered before. Outcome: yes "
    f"= reloaded, no request failed, and every request on time again within "
    f"{RECOVERED_WITHIN_S:g} s of the signal; partial = reloaded, but requests failed, were "
    "late for longer, or a held connection was cut (closed without its end, reset, or silent); "
    "no = not reloaded by the end of the run, the server exited, requests were still failing "
    "or late at the end, or the server declares no reload mechanism (with the page that shows "
    "it)."
)


def send_reload(signal_name: str) -> live_load.Event:
    """The event: note which processes hold the held connections, then send the signal."""

    def event(scene: live_load.Scene) -> dict[str, Any]:
        root = scene.instance.process.pid
        holders = {kind: holder_of(root, port) for kind, port in scene.held.local_ports().items()}
        at = time.time()
        os.kill(root, signal.Signals[signal_name])
        return {"signal": signal_name, "root_pid": root, "holders": holders, "at_unix": at}

    return event


def reloaded(evidence: dict[str, Any]) -> dict[str, Any]:
    """Whether the workers were replaced: every process that answered /process before the
    signal gone (one that holds a held connection may still be draining it), other processes
    answering after the load, and at least as many new processes under the server as workers
    answered before (a reload that stopped halfway leaves fewer)."""
    holders = {pid for pid in evidence["event"]["holders"].values() if pid is not None}
    workers = {process["pid"] for process in evidence["serving_before"]}
    alive = {process["pid"] for process in evidence["workers_after"]}
    started = alive - {process["pid"] for process in evidence["workers_before"]}
    answering = {process["pid"] for process in evidence["serving_after"]}
    still_there = sorted((workers - holders) & (alive | answering))
    new = sorted(answering - workers)
    whole_at = None
    for change in evidence["tree_changes"]:
        at = change["since_window_start_s"]
        if at >= evidence["event"]["at_s"] and not (workers - holders) & set(change["pids"]):
            whole_at = round(at - evidence["event"]["at_s"], 3)
            break
    return {
        "replaced": bool(workers)
        and not still_there
        and bool(new)
        and len(started) >= len(workers),
        "workers_before": sorted(workers),
        "started": sorted(started),
        "still_there": still_there,
        "draining": sorted(workers & holders & alive),
        "new": new,
        "old_gone_after_s": whole_at,
    }


def _pids(pids: list[int]) -> str:
    return ", ".join(map(str, pids)) or "none"


def judge(evidence: dict[str, Any]) -> tuple[str, str]:
    event = evidence["event"]
    if not evidence["server_alive"]:
        return "no", f"The server exited after {event['signal']} ({evidence['reload_note']})."
    replaced = evidence["replacement"]
    figures = evidence["figures"]
    load = live_load.figures_text(evidence)
    held = live_load.held_text(evidence)
    if not replaced["replaced"]:
        # A worker that holds a held connection is left out of "still_there" (it may drain),
        # so the processes that answered both before and after are named from the probes.
        after = {process["pid"] for process in evidence["serving_after"]}
        kept = [pid for pid in replaced["workers_before"] if pid in after]
        silent = [pid for pid in replaced["still_there"] if pid not in kept]
        besides = f", still running but not answering: {_pids(silent)}" if silent else ""
        return "no", (
            f"Not reloaded by the end of the run after {event['signal']}: of the processes "
            f"that answered before it ({_pids(replaced['workers_before'])}), still answering "
            f"after it: {_pids(kept)}{besides}; new processes {len(replaced['started'])}, of "
            f"which {len(replaced['new'])} answered; {load}; {held}."
        )
    gone = replaced["old_gone_after_s"]
    lead = f"Reloaded by {event['signal']}" + (
        f", the old workers gone {gone:g} s later" if gone is not None else ""
    )
    if replaced["draining"]:
        lead += f" (pid {_pids(replaced['draining'])}, holding a held connection, still running)"
    back = figures["back_to_full_rate_after_s"]
    if back is None:
        return "no", f"{lead}, but requests still failed or were late at the end: {load}; {held}."
    problems = []
    if figures["failed"]:
        problems.append(live_load.failures_text(figures))
    if back > RECOVERED_WITHIN_S:
        problems.append(f"the full rate was on time again only after {back:g} s")
    problems += live_load.lost_held(evidence, CUT, set())
    if problems:
        return "partial", f"{lead}, but {'; '.join(problems)}: {load}; {held}."
    return "yes", f"{lead}: {load}; {held}."


def run(context: CheckContext) -> Finding:
    assert context.launcher is not None
    operations = context.server.operations
    if operations is None or operations.reload_signal is None:
        docs = operations.reload_docs if operations else context.server.docs
        note = operations.reload_note if operations else "No reload signal is declared."
        return Finding(
            "no",
            f"No reload mechanism: {note} ({docs})",
            {"reload_signal": None, "reload_docs": docs, "reload_note": note},
        )
    with context.launcher.launch("http") as instance:
        evidence = live_load.run_under_load(
            context, instance, send_reload(operations.reload_signal)
        )
    evidence["reload_docs"] = operations.reload_docs
    evidence["reload_note"] = operations.reload_note
    if evidence["failure"]:
        return Finding("error", f"Not measured: {evidence['failure']}.", evidence)
    evidence["replacement"] = reloaded(evidence)
    outcome, summary = judge(evidence)
    return Finding(outcome, summary, evidence)


CHECK = Check(
    heavy=True,
    id="graceful-reload",
    title="Graceful reload under load",
    group=GROUP,
    question=(
        "Sent its documented reload signal while it answers a steady load, does the server "
        "replace every worker without failing a request, and how long are requests late?"
    ),
    thresholds=THRESHOLDS,
    run=run,
)
