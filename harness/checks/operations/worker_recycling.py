"""The worker-recycling check: with the server's setting that restarts each worker after a
number of requests (Gunicorn's --max-requests with its jitter, the usual cure for a slow leak),
do requests fail while the workers recycle under a steady load?

The setting is data (``[operations] recycle_args`` in the server's definition, with the page
that documents it): the check starts an instance of its own with the production command plus
those arguments, filled with MAX_REQUESTS and JITTER. The rate is measured first on a plain
instance, so that the closed loop's thousands of requests do not recycle the workers before
the load starts. A server without such a setting says so, with the page that shows it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from harness.benchmarks.scenarios.h2load_common import native_json
from harness.checks import Check, CheckContext, Finding
from harness.checks.operations import live_load
from harness.checks.operations._shared import GROUP

# Small enough that every worker recycles during the load (a quarter of a slow configuration's
# highest rate, about 50 requests a second over 15 s, spread over its workers), large enough
# that a recycle is not every request.
MAX_REQUESTS = 200
JITTER = 50

THRESHOLDS = (
    f"The highest rate is measured on a plain instance, then an instance of its own starts with "
    f"the server's request-count recycling ([operations] recycle_args of its definition, with "
    f"the page that documents it) set to {MAX_REQUESTS} requests with a jitter (or stagger) of "
    f"{JITTER}, sized as deployed: {live_load.shape_text(live_load.SHAPE)}; here no event is "
    "applied, the workers recycle by themselves, and the windows count from the start of the "
    "load. Recycles: processes that answered /process, or ran under the server, and were gone "
    "by the end. Outcome: yes = at least one worker recycled and no request failed; partial = "
    "workers recycled, but requests failed or a held connection was cut (closed without its "
    "end, reset, or silent); no = the server exited, none of the requests due in the last "
    "window was answered, or the server has no request-count recycling (with the page that "
    "shows it); error = no worker recycled during the run."
)

CUT = ("closed", "reset", "stalled")


def no_event(scene: live_load.Scene) -> dict[str, Any]:
    """Nothing is done: the workers recycle themselves; the figures count from the start."""
    return {"at_unix": None, "from_window_start": True, "max_requests": MAX_REQUESTS}


def recycling_instance(context: CheckContext, args: tuple[str, ...]) -> Any:
    """A launcher whose plain command carries the recycling arguments."""
    assert context.launcher is not None
    filled = [
        arg.replace("{max_requests}", str(MAX_REQUESTS)).replace("{jitter}", str(JITTER))
        for arg in args
    ]
    server = context.server
    recycling = replace(
        server, commands={**server.commands, "http": (*server.argv("http"), *filled)}
    )
    return replace(context.launcher, definition=recycling), filled


def recycled(evidence: dict[str, Any]) -> dict[str, Any]:
    """The processes gone by the end (each a recycled worker) and the new ones."""
    seen = {process["pid"] for process in evidence["workers_before"]}
    for change in evidence["tree_changes"]:
        seen |= set(change["pids"])
    seen |= {process["pid"] for process in evidence["serving_before"]}
    after = {process["pid"] for process in evidence["workers_after"]}
    before = {process["pid"] for process in evidence["workers_before"]}
    return {
        "gone": sorted(seen - after),
        "new": sorted(after - before),
        "count_before": len(before),
        "count_after": len(after),
    }


def judge(evidence: dict[str, Any]) -> tuple[str, str]:
    note = evidence["recycle_note"]
    if not evidence["server_alive"]:
        return "no", f"The server exited while its workers recycled ({note})."
    figures = evidence["figures"]
    load = live_load.figures_text(evidence, around_an_event=False)
    held = live_load.held_text(evidence)
    gone = evidence["recycles"]["gone"]
    last = figures["windows"][-1]
    if last["due"] and not last["answered"]:
        return "no", (
            f"The server stopped answering once its workers reached {MAX_REQUESTS} requests "
            f"({len(gone)} replaced; {note}): {load}; {held}."
        )
    if not gone:
        return "error", (
            f"No worker recycled during the run ({MAX_REQUESTS} requests each): {load}."
        )
    lead = (
        f"{len(gone)} worker{'s' if len(gone) != 1 else ''} recycled after {MAX_REQUESTS} "
        f"requests (jitter {JITTER})"
    )
    problems = []
    if figures["failed"]:
        problems.append(live_load.failures_text(figures))
    problems += live_load.lost_held(evidence, CUT, set())
    if problems:
        return "partial", f"{lead}, but {'; '.join(problems)}: {load}; {held}."
    return "yes", f"{lead}: {load}; {held}."


def run(context: CheckContext) -> Finding:
    assert context.launcher is not None
    operations = context.server.operations
    if operations is None or operations.recycle_args is None:
        docs = operations.recycle_docs if operations else context.server.docs
        note = operations.recycle_note if operations else "No recycling setting is declared."
        return Finding(
            "no",
            f"No request-count recycling: {note} ({docs})",
            {"recycle_args": None, "recycle_docs": docs, "recycle_note": note},
        )
    path = context.endpoints[native_json(context.server)]
    with context.launcher.launch("http") as plain:
        maximum = live_load.maximum_rate(plain.url(path), context.launcher.scratch, live_load.SHAPE)
    launcher, filled = recycling_instance(context, operations.recycle_args)
    with launcher.launch("http") as instance:
        evidence = live_load.run_under_load(context, instance, no_event, maximum)
    evidence |= {
        "recycle_args": filled,
        "recycle_docs": operations.recycle_docs,
        "recycle_note": operations.recycle_note,
    }
    if evidence["failure"]:
        return Finding("error", f"Not measured: {evidence['failure']}.", evidence)
    evidence["recycles"] = recycled(evidence)
    outcome, summary = judge(evidence)
    return Finding(outcome, summary, evidence)


CHECK = Check(
    heavy=True,
    id="worker-recycling",
    title="Worker recycling under load",
    group=GROUP,
    question=(
        f"With each worker recycled after {MAX_REQUESTS} requests (the server's max-requests "
        "setting with its jitter), do requests fail while the workers restart under a steady "
        "load?"
    ),
    thresholds=THRESHOLDS,
    run=run,
)
