"""The worker-exit check: when a worker process exits by itself in the middle of a request (a
crash in C code, a library that calls ``os._exit``) while the server answers a steady load, is
it replaced?

Unlike ``kill -9`` from outside, the worker ends while it runs Django: the sample project's
/process/exit view calls ``os._exit(1)`` (on only where SAMPLEPROJECT_EXIT_VIEW=1, which this
check's own instance sets). The request goes on a connection of its own; the worker that
answered nothing and is gone afterwards is the one that exited. Judged as the worker-kill
check judges a killed worker (``worker_kill.judge``).
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from harness.checks import Check, CheckContext, Finding
from harness.checks.operations import live_load, worker_kill
from harness.checks.operations._shared import GROUP
from harness.checks.operations.worker_processes import HeldPorts, descendants

EXIT_ENDPOINT = "process_exit"
ENV = {"SAMPLEPROJECT_EXIT_VIEW": "1"}
EXIT_TIMEOUT_S = 5.0
GONE_WITHIN_S = 2.0  # the exited worker disappears from the server's children within this
EXITED = worker_kill.Ending("exited by itself (os._exit(1) in a view)", "the exited worker")

THRESHOLDS = (
    f"As the worker-kill check, but the event is a GET of the sample project's /process/exit "
    "view on a connection of its own, which ends the worker that runs it with os._exit(1) "
    "(the view is on only for this check's instance, SAMPLEPROJECT_EXIT_VIEW=1); the exited "
    "worker is the process that answered /process before and is gone "
    f"{GONE_WITHIN_S:g} s after the request, which is sent only where a process other than "
    "the one the harness started answered /process. Outcome as the worker-kill check's."
)


def _exit_request(url: str) -> str:
    """What became of the request to the exit view (it should lose its connection)."""
    try:
        with httpx.Client(timeout=EXIT_TIMEOUT_S) as client:
            response = client.get(url, headers={"Connection": "close"})
    except httpx.HTTPError as error:
        return type(error).__name__
    return f"HTTP {response.status_code}"


def exit_one_worker(path: str) -> live_load.Event:
    """The event: ask the exit view once, then find the worker that is gone."""

    def event(scene: live_load.Scene) -> dict[str, Any]:
        record = {"request": None, **worker_kill.pick_victim(scene)}
        if record["victim"] is None:
            return record  # Django answers from the process the harness started
        root = scene.instance.process.pid
        workers = set(scene.serving) - {root}
        gone: set[int] = set()
        with HeldPorts(workers, scene.port) as held:
            record["at_unix"] = time.time()
            record["request"] = _exit_request(scene.instance.url(path))
            deadline = time.monotonic() + GONE_WITHIN_S
            while not gone and time.monotonic() < deadline:
                gone = workers - set(descendants(root))
                time.sleep(0.05)
        ports = held.ports
        # The worker that ran the view, whichever the kernel gave the connection to.
        record["victim"] = min(gone) if gone else None
        record["exited"] = sorted(gone)
        record["victim_connections"] = sorted(port for pid in gone for port in ports[pid])
        return record

    return event


def run(context: CheckContext) -> Finding:
    event = exit_one_worker(context.endpoints[EXIT_ENDPOINT])
    finding = worker_kill.measure(context, event, EXITED, env=ENV)
    event_record = finding.evidence.get("event") or {}
    if (
        finding.outcome == "not-applicable"
        and event_record.get("request") is not None
        and not event_record.get("exited")
    ):
        return Finding(
            "error",
            f"The exit view was asked ({event_record['request']}), but no worker exited.",
            finding.evidence,
        )
    return finding


CHECK = Check(
    heavy=True,
    id="worker-exit",
    title="A worker that exits by itself is replaced under load",
    group=GROUP,
    question=(
        "When one worker process exits by itself in the middle of a request (os._exit) while "
        "the server answers a steady load, is it replaced, and how many requests fail?"
    ),
    thresholds=THRESHOLDS,
    run=run,
)
