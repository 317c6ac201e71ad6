"""Running Locust: started early and held until its cue, waited for, killed on leaving, and
its outputs turned into a Measurement (or the reason there is none)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.benchmarks.locust.command import (
    JSON_STEM,
    START_FILE,
    STEPS_DIR,
    LocustRequest,
    locust_command,
    locust_environment,
    locust_version,
    serving_django_variables,
    stop_timeout_s,
)
from harness.benchmarks.locust.stats import (
    Histogram,
    message_list,
    read_steps,
    read_totals,
    single_step_from_totals,
    step_metrics,
    step_notes,
    step_summaries,
    total_metrics,
)
from harness.benchmarks.measurement import Measurement
from harness.process import ServerProcess, StartError, log_tail

OUTER_TIMEOUT_MARGIN_S = 60.0  # after this beyond the steps, the whole process group is killed
POLL_INTERVAL_S = 0.25
LOG_NAME = "locust.log"
TOP_FAILURES = 10
ERROR_LINE = re.compile(r"^[\w.]*(Error|Exception|Exit|Interrupt)\b.*")


def run_locust(request: LocustRequest, scratch: Path, prefix: Sequence[str] = ()) -> Measurement:
    """One Locust run over all steps. Failed (with one sentence why) if Locust cannot start,
    crashes, overruns, or reports nothing; failed requests alone are figures, not a failure."""
    with started_locust(request, scratch, prefix) as locust:
        return locust.measure()


@contextmanager
def started_locust(
    request: LocustRequest, scratch: Path, prefix: Sequence[str] = ()
) -> Iterator[LocustRun]:
    """Locust, started and importing (about 1 s) but holding its steps until ``measure()``:
    the caller can start the server meanwhile. Locust is killed on leaving, also on Ctrl-C or
    when the server never came up, so it never outlives its run."""
    scratch.mkdir(parents=True, exist_ok=True)
    remove_previous_outputs(scratch)
    command = [*prefix, *locust_command(request, scratch)]
    details: dict[str, Any] = {
        "command": command,
        "environment": serving_django_variables(request, scratch),
        "locust_version": locust_version(),
        "notes": [],
    }
    process = ServerProcess(
        command,
        cwd=scratch,
        env=locust_environment(request, scratch),
        log_path=scratch / LOG_NAME,
        stop_signal="SIGINT",
        kind="load tool locust",
    )
    run = LocustRun(request, scratch, process, details)
    try:
        try:
            process.start()
        except StartError as error:
            run.start_failure = f"Locust could not start: {error.reason}"
        yield run
    finally:
        process.kill()


@dataclass
class LocustRun:
    request: LocustRequest
    scratch: Path
    process: ServerProcess
    details: dict[str, Any]
    start_failure: str | None = None

    def measure(self) -> Measurement:
        """Let Locust begin its steps now, wait for it to finish, and read its figures."""
        if self.start_failure is not None:
            return Measurement(
                failure=self.start_failure, details=self.details, failed_by="machine"
            )
        (self.scratch / START_FILE).touch()
        timeout_s = self.request.total_s + stop_timeout_s(self.request) + OUTER_TIMEOUT_MARGIN_S
        try:
            exit_code = wait_for_exit(self.process, timeout_s)
        finally:
            self.process.kill()
        self.details["exit_code"] = exit_code
        return measurement_from_outputs(
            self.request, self.scratch, exit_code, timeout_s, self.details
        )


def remove_previous_outputs(scratch: Path) -> None:
    """Stale files from an earlier run in the same directory would be read as this run's."""
    (scratch / f"{JSON_STEM}.json").unlink(missing_ok=True)
    (scratch / LOG_NAME).unlink(missing_ok=True)  # the log is appended to
    (scratch / START_FILE).unlink(missing_ok=True)  # else Locust would not wait for its cue
    for path in (scratch / STEPS_DIR).glob("steps-*.json"):
        path.unlink()


def wait_for_exit(process: ServerProcess, timeout_s: float) -> int | None:
    """Locust's exit code, or None if it was still running after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while (code := process.exit_code()) is None:
        if time.monotonic() >= deadline:
            return None
        process.remember_descendants()  # --processes workers, to kill them if they stray
        time.sleep(POLL_INTERVAL_S)
    return code


def measurement_from_outputs(
    request: LocustRequest,
    scratch: Path,
    exit_code: int | None,
    timeout_s: float,
    details: dict[str, Any],
) -> Measurement:
    log = scratch / LOG_NAME
    locust_totals = read_totals(scratch / f"{JSON_STEM}.json")
    failure = run_failure(exit_code, timeout_s, locust_totals, log)
    if failure is not None:
        details["log_tail"] = log_tail(log)
        return Measurement(failure=failure, details=details)
    assert locust_totals is not None
    notes = details["notes"]
    steps = read_steps(scratch / STEPS_DIR, request, notes)
    if steps is not None:
        totals = steps.totals()
        records = step_summaries(steps)
        notes += step_notes(locust_totals, steps)
    else:
        totals = locust_totals
        records = single_step_from_totals(totals, request, notes)
        notes.append("percentiles come from Locust's histogram (2 significant digits > 100 ms)")
    if totals.requests == 0:
        details["log_tail"] = log_tail(log)
        return Measurement(failure="Locust sent no requests.", details=details)
    if "CPU usage" in log_tail(log, lines=200):
        # Locust checks every 10 s, so short runs may be bound by it without this note.
        notes.append("Locust warned that its CPU usage was above 90 %: it may be the bottleneck")
    metrics = total_metrics(totals, steps, request)
    metrics.update(step_metrics(records, request))
    details["steps"] = records
    details["started_at"] = steps.started_at if steps is not None else None
    details["step_files"] = steps.files if steps is not None else 0
    details["requests_by_name"] = dict(totals.by_name)
    details["failure_messages"] = message_list(totals.messages, TOP_FAILURES)
    return Measurement(metrics=metrics, details=details)


def run_failure(
    exit_code: int | None, timeout_s: float, totals: Histogram | None, log: Path
) -> str | None:
    """Why this run has no figures, or None. Exit code 1 only means some requests failed."""
    if exit_code is None:
        return f"Locust did not finish within {timeout_s:.0f} s and was killed."
    if exit_code not in (0, 1):
        return f"Locust exited with code {exit_code}: {last_error(log)}"
    if totals is None:
        return f"Locust exited with code {exit_code} without statistics: {last_error(log)}"
    return None


def last_error(log: Path) -> str:
    """The line that says what went wrong: the last exception line, else the last line."""
    lines = [line.strip() for line in log_tail(log, lines=200).splitlines() if line.strip()]
    for line in reversed(lines):
        if ERROR_LINE.match(line):
            return line[:300]
    return lines[-1][:300] if lines else "its log is empty."
