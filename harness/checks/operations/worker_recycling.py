"""The worker-recycling check: with the server's setting that restarts each worker after a
number of requests (Gunicorn's --max-requests with its jitter, the usual cure for a slow leak),
do requests fail while the workers recycle under a steady load?

The setting is data (``[operations] recycle_args`` in the server's definition, with the page
that documents it): the check starts an instance of its own with the production command plus
those arguments, filled with a request count (``max_requests``) that makes each worker
recycle a few times during the load, and its jitter. The rate is measured first on a plain
instance, so that the closed loop's thousands of requests do not recycle the workers before
the load starts, and the count follows from it. A server without such a setting says so, with
the page that shows it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from harness.benchmarks.scenarios.h2load_common import native_json
from harness.checks import Check, CheckContext, Finding
from harness.checks.operations import live_load
from harness.checks.operations._shared import GROUP

# The request count: the load's requests shared by the production workers, divided so that each
# worker recycles about RECYCLES_EACH times (twice where a configuration runs more workers than
# its sizing says), but never fewer than MIN_REQUESTS (a recycle is not every request); the
# jitter (or uWSGI's stagger) a quarter of it.
RECYCLES_EACH = 4
MIN_REQUESTS = 20
JITTER_SHARE = 0.25

THRESHOLDS = (
    f"The highest rate is measured on a plain instance, then an instance of its own starts with "
    f"the server's request-count recycling ([operations] recycle_args of its definition, with "
    f"the page that documents it) set to the load's requests / the production workers / "
    f"{RECYCLES_EACH} (at least {MIN_REQUESTS}) with a jitter (or stagger) of "
    f"{JITTER_SHARE:.0%} of it, sized as deployed: {live_load.shape_text(live_load.SHAPE)}; "
    "here no event is "
    "applied, the workers recycle by themselves, and the windows count from the start of the "
    "load. Recycles: processes that answered /process, or ran under the server, and were gone "
    "by the end. Outcome: yes = at least one worker recycled and no request failed; partial = "
    "workers recycled, but requests failed or a held connection was cut (closed without its "
    "end, reset, or silent); no = the server exited, none of the requests due in the run's "
    "last seconds was answered, or the server has no request-count recycling (with the page "
    "that shows it); error = no worker recycled during the run."
)

CUT = ("closed", "reset", "stalled")


def no_event(scene: live_load.Scene) -> dict[str, Any]:
    """Nothing is done: the workers recycle themselves; the figures count from the start."""
    return {"at_unix": None, "from_window_start": True}


def request_count(maximum: float, workers: int) -> tuple[int, int]:
    """(max_requests, jitter) for a load at the shape's share of ``maximum``."""
    shape = live_load.SHAPE
    requests = maximum * shape.rate_share * shape.duration_s
    count = max(MIN_REQUESTS, round(requests / max(1, workers) / RECYCLES_EACH))
    return count, max(1, round(count * JITTER_SHARE))


def recycling_instance(
    context: CheckContext, args: tuple[str, ...], count: int, jitter: int
) -> Any:
    """A launcher whose plain command carries the recycling arguments."""
    assert context.launcher is not None
    filled = [
        arg.replace("{max_requests}", str(count)).replace("{jitter}", str(jitter)) for arg in args
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
    count, jitter = evidence["max_requests"], evidence["jitter"]
    tail = figures["tail"]
    if tail["due"] and not tail["answered"]:
        return "no", (
            f"The server stopped answering once its workers reached {count} requests "
            f"({len(gone)} replaced; {note}): {load}; {held}."
        )
    if not gone:
        return "error", f"No worker recycled during the run ({count} requests each): {load}."
    lead = (
        f"{len(gone)} worker{'s' if len(gone) != 1 else ''} recycled after {count} "
        f"requests (jitter {jitter})"
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
    if maximum[0] is None:
        return Finding("error", f"Not measured: no maximum rate: {maximum[1]['failure']}.")
    count, jitter = request_count(maximum[0], context.launcher.workers())
    launcher, filled = recycling_instance(context, operations.recycle_args, count, jitter)
    with launcher.launch("http") as instance:
        evidence = live_load.run_under_load(context, instance, no_event, maximum)
    evidence |= {
        "max_requests": count,
        "jitter": jitter,
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
        "With each worker recycled after a number of requests (the server's max-requests "
        "setting with its jitter), do requests fail while the workers restart under a steady "
        "load?"
    ),
    thresholds=THRESHOLDS,
    run=run,
)
