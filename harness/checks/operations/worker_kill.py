"""The worker-kill check: when one worker process dies (``kill -9``, as the kernel's OOM killer
or a crash in C code ends it) while the server answers a steady load, is it replaced, and how
many requests does the server lose?

A server with a master process (Gunicorn's arbiter, uWSGI's master, Uvicorn's and Granian's
supervisors) can notice a dead worker and fork a new one; whether it does, and how fast, is
what is measured. The victim is a process that answered the sample project's /process view
during the load (so it runs Django), never the process the harness started; a configuration
whose Django runs in that process has no worker to kill (not applicable). On an instance of
its own (``live_load``), so the checks that follow on the shared one find all its workers.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import Any

from harness.checks import Check, CheckContext, Finding
from harness.checks.operations import live_load
from harness.checks.operations._shared import GROUP
from harness.checks.operations.held_connections import holder_of
from harness.checks.operations.worker_processes import client_ports

# The full rate answered on time again within this long after the kill: recovered promptly.
RECOVERED_WITHIN_S = 5.0

THRESHOLDS = (
    f"On an instance of its own sized as deployed: {live_load.shape_text(live_load.SHAPE)}. "
    f"The event: {live_load.PROBES} requests to /process side by side, each on a connection of "
    "its own, name the processes that run Django; one of them that is not the process the harness "
    "started, and that holds neither the SSE stream's nor the WebSocket's connection where "
    "there is such a one, is killed with SIGKILL. Replaced: the killed pid gone and as many "
    "processes under the server at the end as before, one of them new. Failed requests: the "
    "ones sent on a connection the killed worker held (the clients' ports of its connections "
    "just before the kill; its sockets close with it, and the client learns so on its next "
    "request) are lost with it and allowed, as no server can answer them; where the worker "
    "held no client connection (a front process relays to it, as uWSGI's router does), the "
    "failed requests in flight at the kill are. Every other failure counts. "
    f"Outcome: yes = replaced, no other request failed, every request on time again within "
    f"{RECOVERED_WITHIN_S:g} s of the kill, and the held connections on other processes kept; "
    "partial = replaced, but other requests failed, recovery took longer, or a held connection "
    "on another process was lost; no = not replaced by the end of the run, the server exited, "
    "or requests were still failing or late at the end; not-applicable = Django answers from "
    "the process the harness started (one process, no separate workers: killing it ends the "
    "server), or a development server (runserver: one serving process under its autoreloader)."
)


def pick_victim(scene: live_load.Scene) -> dict[str, Any]:
    """The event's record before it acts: which processes hold the held connections, and the
    worker to end (None where Django answers from the process the harness started): one that
    answered /process, holding neither held connection where there is such a one."""
    root = scene.instance.process.pid
    holders = {kind: holder_of(root, port) for kind, port in scene.held.local_ports().items()}
    candidates = [pid for pid in scene.serving if pid != root]
    spare = [pid for pid in candidates if pid not in holders.values()]
    return {
        "root_pid": root,
        "holders": holders,
        "at_unix": None,
        "victim": (spare or candidates or [None])[0],
    }


def kill_one_worker(scene: live_load.Scene) -> dict[str, Any]:
    """The event: kill one worker with SIGKILL."""
    record = {"signal": "SIGKILL", **pick_victim(scene)}
    if record["victim"] is not None:
        record["victim_connections"] = client_ports(record["victim"], scene.port)
        record["at_unix"] = time.time()
        os.kill(record["victim"], signal.SIGKILL)
    return record


@dataclass(frozen=True)
class Ending:
    """How the event ended the worker, in the summary's words."""

    done: str  # "killed (SIGKILL)"
    which: str  # "the killed worker"


KILLED = Ending("killed (SIGKILL)", "the killed worker")


def judge(evidence: dict[str, Any], ending: Ending = KILLED) -> tuple[str, str]:
    event = evidence["event"]
    victim = event["victim"]
    if victim is None:
        if not evidence["serving_before"]:
            return "error", "No request to /process was answered during the load."
        return "not-applicable", (
            f"Django answered from the process the harness started (pid {event['root_pid']}): "
            "no separate worker processes, so there is no worker to end and replace."
        )
    if not evidence["server_alive"]:
        return "no", f"The server exited after one worker (pid {victim}) was {ending.done}."
    replaced = evidence["replacement"]
    figures = evidence["figures"]
    load = live_load.figures_text(evidence)
    held = live_load.held_text(evidence)
    if not replaced["replaced"]:
        return "no", (
            f"{ending.which.capitalize()} (pid {victim}) was not replaced: "
            f"{replaced['count_before']} processes under the server before, "
            f"{replaced['count_after']} at the end; {load}; {held}."
        )
    whole = replaced["whole_again_after_s"]
    lead = f"Worker pid {victim} {ending.done} and replaced" + (
        f" {whole:g} s later" if whole is not None else ""
    )
    back = figures["back_to_full_rate_after_s"]
    if back is None:
        return "no", f"{lead}, but requests still failed or were late at the end: {load}; {held}."
    problems = []
    if figures["failed_otherwise"]:
        problems.append(
            f"{figures['failed_otherwise']} requests failed besides the "
            f"{figures['failed_with_the_ended_worker']} lost with {ending.which}"
        )
    if back > RECOVERED_WITHIN_S:
        problems.append(f"the full rate was on time again only after {back:g} s")
    problems += [
        f"{lost} (on another process)"
        for lost in live_load.lost_held(evidence, live_load.LOST, {victim, None})
    ]
    if problems:
        return "partial", f"{lead}, but {'; '.join(problems)}: {load}; {held}."
    return "yes", f"{lead}: {load}; {held}."


DEVELOPMENT = Finding(
    "not-applicable",
    "A development server: one serving process under its autoreloader, which starts it again "
    "only when the code changes, and no worker processes to replace.",
    {"mode": "development"},
)


def measure(
    context: CheckContext,
    event: live_load.Event,
    ending: Ending,
    env: dict[str, str] | None = None,
) -> Finding:
    """The run around an event that ends one worker, judged by ``judge``."""
    assert context.launcher is not None
    if context.server.mode == "development":
        return DEVELOPMENT
    with context.launcher.launch("http", env=env) as instance:
        evidence = live_load.run_under_load(context, instance, event)
    if evidence["failure"]:
        return Finding("error", f"Not measured: {evidence['failure']}.", evidence)
    victim = evidence["event"]["victim"]
    if victim is not None:
        evidence["replacement"] = live_load.replacement(evidence, {victim})
    outcome, summary = judge(evidence, ending)
    return Finding(outcome, summary, evidence)


def run(context: CheckContext) -> Finding:
    return measure(context, kill_one_worker, KILLED)


CHECK = Check(
    heavy=True,
    id="worker-kill",
    title="A killed worker is replaced under load",
    group=GROUP,
    question=(
        "When one worker process is killed (kill -9) while the server answers a steady load, "
        "is it replaced, how many requests fail, and how soon is every request answered on "
        "time again?"
    ),
    thresholds=THRESHOLDS,
    run=run,
)
