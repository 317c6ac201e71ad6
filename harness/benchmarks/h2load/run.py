"""Running h2load: its process group, killed at the timeout or when it hangs after its main
duration, and the Measurement made of what it printed and logged."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.benchmarks.h2load.command import H2LOAD, H2loadRequest, h2load_command
from harness.benchmarks.h2load.output import (
    REQUESTS_LINE,
    RequestLog,
    figures,
    notes_for,
    parse_summary,
    read_request_log,
)
from harness.benchmarks.h2load.validity import HUNG, failure_reason
from harness.benchmarks.measurement import Measurement
from harness.benchmarks.tool_process import Finished, fresh_log_path, run_tool

TIMEOUT_MARGIN_S = 30.0
TIMEOUT_PER_CLIENT_S = 0.05  # opening and closing connections takes longer with many clients
# h2load prints this when its main duration is over, stops its clients and exits within
# milliseconds; still running STOPPING_GRACE_S later, it hung (see TIMEOUT_HINT) and is killed
# then, rather than at the run's timeout.
STOPPING_LINE = "Main benchmark duration is over"
STOPPING_GRACE_S = 2.0
OUTPUT_TAIL_LINES = 20
# h2load 1.52 never exits after a -D run in which some of its connections never got an
# answer: it prints "Stopped all clients" and spins. Two causes were seen here: a server that
# closes HTTP/1.1 connections after every response (``Connection: close``), and one that serves
# fewer connections at once than there are clients (Gunicorn's gthread worker over HTTP/2
# holds a thread per connection: with --threads 8, h2load finished with 8 clients and hung
# with 9).
TIMEOUT_HINT = (
    "; it had stopped its clients and hung, as h2load 1.52 does when some connections never"
    " get an answer: the server closes the connection after every response, or serves fewer"
    " connections at once than there are clients"
)


def default_timeout_s(request: H2loadRequest) -> float:
    return (
        request.duration_s
        + request.warmup_s
        + TIMEOUT_MARGIN_S
        + TIMEOUT_PER_CLIENT_S * request.clients
    )


def run_process(
    command: Sequence[str], timeout_s: float, stopping_grace_s: float = STOPPING_GRACE_S
) -> Finished:
    """Run h2load (see ``tool_process.run_tool``), killed when it is still running
    ``stopping_grace_s`` after announcing the end of its main duration (it hung)."""
    return run_tool(command, timeout_s, STOPPING_LINE, stopping_grace_s)


def last_output_line(finished: Finished) -> str:
    """One line that says what h2load saw: its last error, else its last counters line."""
    for line in reversed(finished.stderr.splitlines()):
        if line.strip():
            return f"h2load: {line.strip()}"
    for line in reversed(finished.stdout.splitlines()):
        if REQUESTS_LINE.match(line.strip()):
            return f"h2load: {line.strip()}"
    return f"h2load printed nothing useful, exit code {finished.exit_code}"


def run_h2load(
    request: H2loadRequest,
    scratch: Path,
    prefix: Sequence[str] = (),
    timeout_s: float | None = None,
) -> Measurement:
    """One h2load run; ``prefix`` goes before the command (e.g. ``taskset -c 1``)."""
    if shutil.which(H2LOAD) is None:
        return Measurement(failure="h2load is not installed (Debian package nghttp2-client)")
    log_path = fresh_log_path(scratch, "h2load-")
    command = [*prefix, *h2load_command(request, log_path)]
    timeout_s = default_timeout_s(request) if timeout_s is None else timeout_s
    try:
        try:
            finished = run_process(command, timeout_s)
        except OSError as error:
            return Measurement(
                failure=f"cannot execute {command[0]!r}: {error}", details={"command": command}
            )
        ran = finished.exit_code is not None and log_path.exists()
        log = read_request_log(log_path) if ran else None
    finally:
        log_path.unlink(missing_ok=True)
    return measurement_of(request, command, finished, log, timeout_s)


def measurement_of(
    request: H2loadRequest,
    command: list[str],
    finished: Finished,
    log: RequestLog | None,
    timeout_s: float,
) -> Measurement:
    summary = parse_summary(finished.stdout)
    metrics = figures(request, summary, log)
    details: dict[str, Any] = {
        "command": command,
        "summary": "\n".join(summary.lines),
        "application_protocol": summary.application_protocol,
        "tls_protocol": summary.tls_protocol,
        "exit_code": finished.exit_code,
        "notes": notes_for(metrics, log, summary, request),
    }
    if finished.exit_code is None:
        hint = TIMEOUT_HINT if "Stopped all clients" in finished.stdout else ""
        if finished.killed_after_stopping_s is not None:
            when = f"within {finished.killed_after_stopping_s:g} s of the end of its main duration"
        else:
            when = f"within {timeout_s:g} s"
        reason = f"{HUNG} {when} and was killed{hint}"
    else:
        line = last_output_line(finished)
        reason = failure_reason(request, summary, log, line, finished.ended_at_s)
    if reason is None:
        return Measurement(metrics=metrics, details=details)
    tail = finished.stderr.splitlines()[-OUTPUT_TAIL_LINES:]
    return Measurement(failure=reason, details={**details, "parsed": metrics, "stderr_tail": tail})
