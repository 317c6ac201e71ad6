"""Lifecycle: what the server says when it starts Django, and how it stops with work in flight.

Django implements no ASGI ``lifespan`` protocol; servers that try it react in different ways
(silence, an INFO line, a WARNING, a traceback). Stopping is measured, not assumed: a request
that sleeps 3 s is in flight when the server gets its documented stop signal.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from typing import Any

import httpx

from harness.checks import Check, CheckContext, Finding
from harness.checks.development.logs import readable_log_line
from harness.launcher import Instance
from harness.process import StartError

# lifespan-quiet
SETTLE_S = 1.0  # lines a server writes just after it became ready still count as start-up
LOG_EXCERPT_CHARS = 4000
MAX_LINES_KEPT = 30
TRACEBACK = "Traceback (most recent call last)"
# Level words as loggers print them (uvicorn "ERROR:", gunicorn "[ERROR]", Django "ERROR name"):
# upper case only, so "Lifespan error" inside a WARNING message is not taken for an error.
ERROR_LEVEL = re.compile(r"(?<![A-Za-z])(ERROR|CRITICAL|FATAL)(?![A-Za-z])")
WARNING_LEVEL = re.compile(r"(?<![A-Za-z])(WARNING|WARN)(?![A-Za-z])|\w+Warning:|^!!!")
LIFESPAN = re.compile(r"lifespan", re.IGNORECASE)
LIFESPAN_THRESHOLDS = (
    "Read from the shared instance's log up to readiness, plus lines that mention lifespan "
    f"written later (after one request and {SETTLE_S:g} s). An error line is one with an "
    "upper-case ERROR, CRITICAL or FATAL level word; a warning line one with WARNING/WARN, a "
    "Python ...Warning: or uWSGI's leading !!!. no when the start-up log holds a traceback or an "
    "error line; partial when it has none but a warning line mentions lifespan; yes otherwise "
    "(lifespan lines at INFO or DEBUG and unrelated warnings are reported, not penalised)."
)

# graceful-shutdown
SLEEP_S = 3.0
SIGNAL_AFTER_S = 1.0
BOUND_S = 15.0  # after the signal: how long we wait for the request and for the exit
POLL_S = 0.05
SHUTDOWN_THRESHOLDS = (
    f"A GET to the sync sleep view ({SLEEP_S:g} s) is sent; {SIGNAL_AFTER_S:g} s later the "
    "definition's stop signal goes to the server's main process only (not its process group). "
    f"Everything is bounded to {BOUND_S:g} s after the signal. yes when the request completes "
    "with 200 and the main process exits by itself within the bound; partial when the request "
    "completes with 200 but the process is still running at the bound; no when the request "
    "fails (connection cut, error status, no answer)."
)


# lifespan-quiet -------------------------------------------------------------------------------


def classify_log(startup: str, later: str) -> dict[str, Any]:
    """The lines of a start-up log that matter, sorted into errors, warnings and lifespan."""
    startup_lines = startup.splitlines()
    later_lifespan = [line for line in later.splitlines() if LIFESPAN.search(line)]
    considered = startup_lines + later_lifespan
    tracebacks = [index for index, line in enumerate(considered) if TRACEBACK in line]
    return {
        "error_lines": [line for line in considered if ERROR_LEVEL.search(line)],
        "warning_lines": [line for line in considered if WARNING_LEVEL.search(line)],
        "lifespan_lines": [line for line in considered if LIFESPAN.search(line)],
        "traceback_count": len(tracebacks),
        "first_traceback": "\n".join(considered[tracebacks[0] : tracebacks[0] + 25])
        if tracebacks
        else None,
    }


def judge_lifespan(lines: dict[str, Any]) -> str:
    if lines["traceback_count"] or lines["error_lines"]:
        return "no"
    if any(WARNING_LEVEL.search(line) for line in lines["lifespan_lines"]):
        return "partial"
    return "yes"


def _quote(line: str, limit: int = 160) -> str:
    return f'"{readable_log_line(line, limit)}"'


def _lifespan_summary(outcome: str, lines: dict[str, Any]) -> str:
    if outcome == "no":
        if lines["traceback_count"]:
            return f"Not quiet: the start-up log holds {lines['traceback_count']} traceback(s)."
        return f"Not quiet: error at start-up: {_quote(lines['error_lines'][0])}."
    lifespan = lines["lifespan_lines"]
    if outcome == "partial":
        return f"Starts, with a lifespan warning: {_quote(lifespan[0])}."
    text = "Quiet start: no error or traceback"
    text += f"; lifespan noted without a warning: {_quote(lifespan[0])}" if lifespan else ""
    text += "; nothing about lifespan" if not lifespan else ""
    others = list(
        dict.fromkeys(line for line in lines["warning_lines"] if not LIFESPAN.search(line))
    )
    if others:
        text += f"; {len(others)} distinct unrelated warning(s), e.g. {_quote(others[0], 90)}"
    return text + "."


def run_lifespan_quiet(context: CheckContext) -> Finding:
    shared = context.shared
    try:
        httpx.get(context.url("json_sync"), timeout=10).raise_for_status()
    except httpx.HTTPError as error:
        return Finding("error", f"The shared instance did not answer: {error}"[:300])
    time.sleep(SETTLE_S)
    log = shared.log_text()
    startup, later = log[: shared.log_offset], log[shared.log_offset :]
    lines = classify_log(startup, later)
    outcome = judge_lifespan(lines)
    evidence = {
        "instance": shared.describe(),
        "interface": context.server.interface,
        **{
            key: value[:MAX_LINES_KEPT] if isinstance(value, list) else value
            for key, value in lines.items()
        },
        "startup_log": startup[-LOG_EXCERPT_CHARS:],
    }
    return Finding(outcome, _lifespan_summary(outcome, lines), evidence)


# graceful-shutdown ----------------------------------------------------------------------------


def _request_in_thread(url: str, record: dict[str, Any], origin: float) -> threading.Thread:
    """Send the slow request from a thread; its outcome lands in ``record``."""

    def send() -> None:
        try:
            response = httpx.get(url, timeout=SIGNAL_AFTER_S + BOUND_S)
        except httpx.HTTPError as error:
            record.update(status=None, error=f"{type(error).__name__}: {error}"[:300])
        else:
            record.update(status=response.status_code, body_sample=response.text[:300])
        record["finished_s"] = time.monotonic() - origin

    thread = threading.Thread(target=send, name="graceful-shutdown-request", daemon=True)
    thread.start()
    return thread


def _watch_stop(instance: Instance, thread: threading.Thread, origin: float) -> float | None:
    """Wait (bounded) until the request is over and the main process exited; exit time."""
    exited_s: float | None = None
    deadline = time.monotonic() + BOUND_S
    while time.monotonic() < deadline:
        if exited_s is None and instance.process.exit_code() is not None:
            exited_s = time.monotonic() - origin
        if exited_s is not None and not thread.is_alive():
            break
        time.sleep(POLL_S)
    thread.join(timeout=max(0.0, deadline - time.monotonic()))
    return exited_s


def judge_shutdown(status: int | None, finished: bool, exited: bool) -> str:
    if not finished or status != 200:
        return "no"
    return "yes" if exited else "partial"


def _exit_text(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        return f"ended by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _shutdown_summary(outcome: str, measured: dict[str, Any]) -> str:
    name = measured["signal"]
    request = measured["request"]
    exited = measured["exited_after_signal_s"]
    if exited is None:
        stop = f"the server was still running {BOUND_S:g} s after {name}"
    else:
        stop = (
            f"the server exited {exited:.1f} s after {name} ({_exit_text(measured['exit_code'])})"
        )
    if outcome in ("yes", "partial"):
        after = request["finished_s"] - measured["signal_sent_s"]
        return (
            f"{'Graceful' if outcome == 'yes' else 'Request completed'}: the {SLEEP_S:g} s "
            f"request in flight completed with 200 {after:.1f} s after {name}; {stop}."
        )
    if "finished_s" not in request:
        problem = f"got no answer within {BOUND_S:g} s"
    elif request["status"] is None:
        problem = f"was cut ({request['error']})"
    else:
        problem = f"answered {request['status']}"
    return f"Cut: the {SLEEP_S:g} s request in flight {problem} after {name}; {stop}."


def _measure_shutdown(instance: Instance, url: str, signal_name: str) -> dict[str, Any]:
    request: dict[str, Any] = {}
    origin = time.monotonic()
    thread = _request_in_thread(url, request, origin)
    time.sleep(SIGNAL_AFTER_S)
    measured: dict[str, Any] = {"signal": signal_name, "request": request}
    if not thread.is_alive():
        measured["problem"] = "the request was over before the signal was sent"
        return measured
    measured["signal_sent_s"] = time.monotonic() - origin
    os.kill(instance.process.pid, getattr(signal, signal_name))
    exited_s = _watch_stop(instance, thread, origin)
    measured.update(
        exited_after_signal_s=None if exited_s is None else exited_s - measured["signal_sent_s"],
        exit_code=instance.process.exit_code(),
        request_in_flight_after_bound=thread.is_alive(),
        request=dict(request),  # a copy: a request still in flight may finish later
    )
    return measured


def run_graceful_shutdown(context: CheckContext) -> Finding:
    if context.launcher is None:
        return Finding("error", "The check could not start its own instance (no launcher).")
    signal_name = context.server.stop_signal
    path = context.endpoints["sleep_sync"]
    try:
        with context.launcher.launch("http") as instance:
            evidence: dict[str, Any] = {"instance": instance.describe(), "path": path}
            httpx.get(instance.url(path, "seconds=0"), timeout=30).raise_for_status()
            measured = _measure_shutdown(
                instance, instance.url(path, f"seconds={SLEEP_S:g}"), signal_name
            )
            time.sleep(0.2)  # the last lines the server writes on its way out
            evidence["log_after_start"] = instance.log_text()[instance.log_offset :][
                -LOG_EXCERPT_CHARS:
            ]
    except StartError as error:
        return Finding(
            "error", f"The server did not start: {error.reason}"[:500], {"log": error.log_tail}
        )
    evidence.update(measured, sleep_s=SLEEP_S, signal_after_s=SIGNAL_AFTER_S, bound_s=BOUND_S)
    if "problem" in measured:
        return Finding("error", f"Could not measure: {measured['problem']}.", evidence)
    request = measured["request"]
    outcome = judge_shutdown(
        request.get("status"), "finished_s" in request, measured["exit_code"] is not None
    )
    return Finding(outcome, _shutdown_summary(outcome, measured), evidence)


CHECKS = [
    Check(
        id="lifespan-quiet",
        title="Quiet start-up (ASGI lifespan)",
        group="Lifecycle",
        question=(
            "Does the server start the stock asgi.py/wsgi.py without errors or tracebacks in "
            "its log (Django does not implement the ASGI lifespan protocol)?"
        ),
        thresholds=LIFESPAN_THRESHOLDS,
        run=run_lifespan_quiet,
    ),
    Check(
        id="graceful-shutdown",
        timed=True,
        title="Graceful shutdown",
        group="Lifecycle",
        question=(
            f"With a {SLEEP_S:g}-second request in flight, does the server's documented stop "
            "signal let it complete with 200? When does the server exit?"
        ),
        thresholds=SHUTDOWN_THRESHOLDS,
        run=run_graceful_shutdown,
    ),
]
