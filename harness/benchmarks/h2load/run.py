"""Running h2load: its process group, killed at the timeout or when it hangs after its main
duration, and the Measurement made of what it printed and logged."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
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

TIMEOUT_MARGIN_S = 30.0
TIMEOUT_PER_CLIENT_S = 0.05  # opening and closing connections takes longer with many clients
# h2load prints this when its main duration is over, stops its clients and exits within
# milliseconds; still running STOPPING_GRACE_S later, it hung (see TIMEOUT_HINT) and is killed
# then, rather than at the run's timeout.
STOPPING_LINE = "Main benchmark duration is over"
STOPPING_GRACE_S = 2.0
POLL_INTERVAL_S = 0.02
OUTPUT_TAIL_LINES = 20
# h2load 1.52 never exits after a -D run whose server closed HTTP/1.1 connections after every
# response (``Connection: close``): it prints "Stopped all clients" and spins.
TIMEOUT_HINT = (
    "; it had stopped its clients and hung, as h2load 1.52 does when the server closes"
    " the connection after every response"
)


def default_timeout_s(request: H2loadRequest) -> float:
    return (
        request.duration_s
        + request.warmup_s
        + TIMEOUT_MARGIN_S
        + TIMEOUT_PER_CLIENT_S * request.clients
    )


@dataclass(frozen=True)
class Finished:
    stdout: str
    stderr: str
    exit_code: int | None  # None: killed (at the timeout, or hung after its clients stopped)
    ended_at_s: float  # epoch, comparable with the log's start times
    # Set when it was killed this many seconds after announcing the end of its main duration.
    killed_after_stopping_s: float | None = None


def run_process(
    command: Sequence[str], timeout_s: float, stopping_grace_s: float = STOPPING_GRACE_S
) -> Finished:
    """Run h2load in its own process group; kill the group at the timeout, when it is still
    running ``stopping_grace_s`` after announcing the end of its main duration (it hung), or on
    any exception (Ctrl-C included, which is then raised again), so no h2load outlives the call.
    """
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    output = _OutputReader(process)
    try:
        deadline = time.monotonic() + timeout_s
        while process.poll() is None:
            now = time.monotonic()
            stopping_at = output.stopping_at
            hung = stopping_at is not None and now >= stopping_at + stopping_grace_s
            if hung or now >= deadline:
                kill_group(process)
                process.wait()
                stdout, stderr = output.finish()
                grace_s = stopping_grace_s if hung else None
                return Finished(stdout, stderr, None, time.time(), grace_s)
            time.sleep(POLL_INTERVAL_S)
    except BaseException:
        kill_group(process)
        process.wait()
        raise
    return Finished(*output.finish(), process.returncode, time.time())


class _OutputReader:
    """Reads h2load's stdout and stderr while it runs (a full pipe would block it), noting
    when it announced the end of its main duration."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.stopping_at: float | None = None
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._threads = [
            threading.Thread(target=self._read, args=(process.stdout, self._stdout), daemon=True),
            threading.Thread(target=self._read, args=(process.stderr, self._stderr), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read(self, stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)
            if self.stopping_at is None and line.startswith(STOPPING_LINE):
                self.stopping_at = time.monotonic()
        stream.close()

    def finish(self) -> tuple[str, str]:
        """Everything printed, once the process has ended (its pipes then reach their end)."""
        for thread in self._threads:
            thread.join()
        return "".join(self._stdout), "".join(self._stderr)


def kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


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
    scratch.mkdir(parents=True, exist_ok=True)
    # A fresh file per run: h2load appends to an existing log instead of replacing it.
    handle, name = tempfile.mkstemp(prefix="h2load-", suffix=".log", dir=scratch)
    os.close(handle)
    log_path = Path(name)
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
