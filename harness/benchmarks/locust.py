"""Run Locust headless with stepped load and turn its statistics into a Measurement.

The locustfiles in ``locustfiles/`` step their users with ``_steps.StepShape`` and, when
SERVING_DJANGO_STEP_STATS names a directory, write per-step statistics there (one file per
process that sent requests). The figures come from those files, added up: a request counts
in the step in force when it was sent (so a ramp counts for the step being ramped to), and the
totals are every request of the run, to 1 ms. Locust's ``--json-file`` proves that Locust
finished, is checked against the files, and stands in for them when a locustfile writes none
(then only a one-step run has per-step figures). See ``_steps`` for the bucketing.

Rates are requests sent during a step over the step's duration; the run's rate is requests sent
during the steps over their total duration. Requests sent after the last step (users finishing
their task during ``--stop-timeout``) are in the totals and in no step.

Metric names end in their unit; ``None`` means "not measured". ``highest_ok_users`` is the
largest step user count whose requests all succeeded; ``None`` there means no step did (even
the first had failures), or that no per-step statistics exist, which a note then says.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.benchmarks.measurement import Measurement
from harness.process import ServerProcess, StartError, log_tail

LOCUSTFILES = Path(__file__).parent / "locustfiles"
RUN_TIME_MARGIN_S = 5  # -t after the last step: a backstop, the shape stops Locust first
OUTER_TIMEOUT_MARGIN_S = 60.0  # after this beyond the steps, the whole process group is killed
POLL_INTERVAL_S = 0.25
JSON_STEM = "locust"  # --json-file appends ".json"
STEPS_DIR = "steps"
LOG_NAME = "locust.log"
START_FILE = "start"  # created when Locust may begin its steps (see _steps.py)
STEP_FILE_SCHEMA_VERSION = 1
TOP_FAILURES = 10
ERROR_LINE = re.compile(r"^[\w.]*(Error|Exception|Exit|Interrupt)\b.*")
# Variables that would change what Locust does behind the command's back.
INHERITED_PREFIXES = ("LOCUST_", "SERVING_DJANGO_")


@dataclass(frozen=True)
class LocustRequest:
    locustfile: Path
    host: str
    steps: tuple[tuple[int, float], ...]  # (users, seconds)
    timeout_s: float = 5.0
    spawn_rate: float | None = None  # None: _steps' default, fast enough to ramp in 0.5 s
    processes: int = 1
    env: Mapping[str, str] = field(default_factory=dict)  # e.g. SERVING_DJANGO_PATH

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("a Locust run needs at least one step")
        users = [count for count, _ in self.steps]
        if any(count < 0 for count in users) or any(not s > 0 for _, s in self.steps):
            raise ValueError(f"steps need users >= 0 and seconds > 0: {self.steps}")
        if len(set(users)) != len(users):
            # Per-step metrics are named after their user count (step50_...).
            raise ValueError(f"each step needs its own user count: {self.steps}")
        if self.processes < 1 or not self.timeout_s > 0:
            raise ValueError("processes must be >= 1 and timeout_s > 0")

    @property
    def total_s(self) -> float:
        return sum(seconds for _, seconds in self.steps)


def steps_text(steps: Iterable[tuple[int, float]]) -> str:
    """The SERVING_DJANGO_STEPS form: ``50:4,150:4``."""
    return ",".join(f"{users}:{seconds:g}" for users, seconds in steps)


def locust_command(request: LocustRequest, out_dir: Path) -> list[str]:
    """Locust's command line; the steps and timeouts travel in ``locust_environment``."""
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(request.locustfile),
        "--headless",
        "--only-summary",
        "-H",
        request.host,
        "-t",
        f"{math.ceil(request.total_s) + RUN_TIME_MARGIN_S}s",
        "--json-file",
        str(out_dir / JSON_STEM),
        "--stop-timeout",
        f"{stop_timeout_s(request):g}",
    ]
    if request.processes > 1:
        command += ["--processes", str(request.processes)]
    return command


def stop_timeout_s(request: LocustRequest) -> float:
    """How long users may finish their task after the last step: without it, Locust kills
    the requests in flight, and the last step never shows an overloaded server's timeouts.
    Every request sent during a step gets its full timeout (+ 1 s of margin); a task's next
    request would count in no step, so polls users do not send it once Locust is stopping."""
    return request.timeout_s + 1


def serving_django_variables(request: LocustRequest, out_dir: Path) -> dict[str, str]:
    variables = dict(request.env)
    variables["SERVING_DJANGO_STEPS"] = steps_text(request.steps)
    variables["SERVING_DJANGO_TIMEOUT_S"] = f"{request.timeout_s:g}"
    variables["SERVING_DJANGO_STEP_STATS"] = str(out_dir / STEPS_DIR)
    variables["SERVING_DJANGO_START_FILE"] = str(out_dir / START_FILE)
    if request.spawn_rate is not None:
        variables["SERVING_DJANGO_SPAWN_RATE"] = f"{request.spawn_rate:g}"
    return variables


def locust_environment(request: LocustRequest, out_dir: Path) -> dict[str, str]:
    inherited = {
        name: value for name, value in os.environ.items() if not name.startswith(INHERITED_PREFIXES)
    }
    return {**inherited, **serving_django_variables(request, out_dir)}


def locust_version() -> str | None:
    """Version of the Locust that ``locust_command`` runs (the harness's own environment)."""
    try:
        return importlib.metadata.version("locust")
    except importlib.metadata.PackageNotFoundError:
        return None


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
            return Measurement(failure=self.start_failure, details=self.details)
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


class Histogram:
    """Requests, failures and response times (value in ms -> count) of a set of requests."""

    def __init__(self) -> None:
        self.requests = 0
        self.failures = 0
        self.timed = 0
        self.total_ms = 0.0
        self.min_ms: float | None = None
        self.max_ms: float | None = None
        self.counts: Counter[float] = Counter()
        self.messages: Counter[str] = Counter()
        self.by_name: Counter[str] = Counter()

    def add(
        self,
        *,
        requests: int,
        failures: int,
        timed: int,
        total_ms: float,
        min_ms: float | None,
        max_ms: float | None,
        counts: Mapping[str, int] | Mapping[float, int],
    ) -> None:
        self.requests += requests
        self.failures += failures
        self.timed += timed
        self.total_ms += total_ms
        if min_ms is not None:
            self.min_ms = min_ms if self.min_ms is None else min(self.min_ms, min_ms)
        if max_ms is not None and timed:
            self.max_ms = max_ms if self.max_ms is None else max(self.max_ms, max_ms)
        for value, count in counts.items():
            self.counts[float(value)] += count

    def include(self, other: Histogram) -> None:
        self.add(
            requests=other.requests,
            failures=other.failures,
            timed=other.timed,
            total_ms=other.total_ms,
            min_ms=other.min_ms,
            max_ms=other.max_ms,
            counts=other.counts,
        )
        self.messages.update(other.messages)
        self.by_name.update(other.by_name)

    def percentile_ms(self, fraction: float) -> float | None:
        """Nearest rank: the smallest value with at least ``fraction`` of requests at or below."""
        total = sum(self.counts.values())
        if not total:
            return None
        rank = max(1, math.ceil(fraction * total))
        running = 0
        for value in sorted(self.counts):
            running += self.counts[value]
            if running >= rank:
                return value
        return None

    def latency_metrics(self) -> dict[str, float | None]:
        average = self.total_ms / self.timed if self.timed else None
        return {
            "latency_min_ms": rounded(self.min_ms),
            "latency_p50_ms": rounded(self.percentile_ms(0.50)),
            "latency_p95_ms": rounded(self.percentile_ms(0.95)),
            "latency_avg_ms": rounded(average),
            "latency_max_ms": rounded(self.max_ms),
        }

    @property
    def failures_percent(self) -> float | None:
        return rounded(self.failures / self.requests * 100) if self.requests else None


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def read_totals(path: Path) -> Histogram | None:
    """All requests of the run from Locust's --json-file (one entry per request name)."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entries, list):
        return None
    totals = Histogram()
    for entry in entries:
        totals.add(
            requests=entry["num_requests"],
            failures=entry["num_failures"],
            timed=entry["num_requests"] - entry.get("num_none_requests", 0),
            total_ms=entry["total_response_time"],
            min_ms=entry["min_response_time"],
            max_ms=entry["max_response_time"],
            counts=entry["response_times"],
        )
        totals.by_name[entry["name"]] += entry["num_requests"]
    return totals


@dataclass
class StepStats:
    users: int
    seconds: float
    ran_s: float = 0.0
    all: Histogram = field(default_factory=Histogram)
    settling: Histogram = field(default_factory=Histogram)
    settling_s: float | None = None


@dataclass
class Steps:
    """The per-step files of one run, added up over the processes that wrote them."""

    steps: list[StepStats]
    late: Histogram
    files: int

    @property
    def requests(self) -> int:
        return sum(step.all.requests for step in self.steps) + self.late.requests

    def totals(self) -> Histogram:
        """Every request of the run: the steps' and the late ones."""
        totals = Histogram()
        for part in [*(step.all for step in self.steps), self.late]:
            totals.include(part)
        return totals


def read_steps(directory: Path, request: LocustRequest, notes: list[str]) -> Steps | None:
    """The merged per-step files; None (with a note) when there are none or they disagree."""
    documents = []
    for path in sorted(directory.glob("steps-*.json")):
        try:
            documents.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as error:
            notes.append(f"unreadable per-step file {path.name}: {error}")
            return None
    if not documents:
        notes.append(
            "no per-step statistics: the locustfile wrote no steps-*.json (does it use _steps?)"
        )
        return None
    planned = [(users, float(seconds)) for users, seconds in request.steps]
    for document in documents:
        found = [(step["users"], float(step["seconds"])) for step in document.get("steps", [])]
        if document.get("schema_version") != STEP_FILE_SCHEMA_VERSION or found != planned:
            notes.append(f"per-step files do not match the requested steps ({found} vs {planned})")
            return None
    merged = Steps([StepStats(users, seconds) for users, seconds in planned], Histogram(), 0)
    for document in documents:
        merge_document(merged, document)
    return merged


def merge_document(merged: Steps, document: Mapping[str, Any]) -> None:
    for step, record in zip(merged.steps, document["steps"], strict=True):
        add_summary(step.all, record)
        add_summary(step.settling, record["settling"])
        step.settling_s = record["settling"]["seconds"]
        # Workers started within moments of each other; the longest is the step's duration.
        step.ran_s = max(step.ran_s, record["ran_s"])
    add_summary(merged.late, document["late_requests"])
    merged.files += 1


def add_summary(histogram: Histogram, record: Mapping[str, Any]) -> None:
    histogram.add(
        requests=record["requests"],
        failures=record["failures"],
        timed=record["timed_requests"],
        total_ms=record["total_response_time_ms"],
        min_ms=record["min_response_time_ms"],
        max_ms=record["max_response_time_ms"],
        counts=record["response_times_ms"],
    )
    histogram.messages.update(record["failure_messages"])
    histogram.by_name.update(record["requests_by_name"])


def run_seconds(steps: Steps | None, request: LocustRequest) -> float:
    if steps is None:
        return request.total_s
    return sum(step.ran_s for step in steps.steps) or request.total_s


def step_requests(totals: Histogram, steps: Steps | None) -> int:
    """Requests sent during the steps (late ones excluded), for the run's rate."""
    return totals.requests if steps is None else steps.requests - steps.late.requests


def total_metrics(
    totals: Histogram, steps: Steps | None, request: LocustRequest
) -> dict[str, float | int | None]:
    return {
        "requests_total": totals.requests,
        "failures_percent": totals.failures_percent,
        # Over the steps' time, like the per-step rates. Locust's own span (first to last
        # request) comes out short in --processes runs, where workers report late.
        "requests_per_s": rounded(step_requests(totals, steps) / run_seconds(steps, request)),
        **totals.latency_metrics(),
    }


def step_summaries(steps: Steps) -> list[dict[str, Any]]:
    """One record per step: its figures, failure messages by count and the settling part."""
    records = []
    for step in steps.steps:
        record: dict[str, Any] = {
            "users": step.users,
            "seconds": step.seconds,
            "ran_s": step.ran_s,
            "requests": step.all.requests,
            "failures": step.all.failures,
            # A step that Locust stopped before (-t, Ctrl-C) has no rate.
            "requests_per_s": rounded(step.all.requests / step.ran_s) if step.ran_s else None,
            "failures_percent": step.all.failures_percent,
            **step.all.latency_metrics(),
            "requests_by_name": dict(step.all.by_name),
            "failure_messages": message_list(step.all.messages),
            "settling": {
                "seconds": step.settling_s,
                "requests": step.settling.requests,
                "failures": step.settling.failures,
                **step.settling.latency_metrics(),
            },
        }
        records.append(record)
    return records


def single_step_from_totals(
    totals: Histogram, request: LocustRequest, notes: list[str]
) -> list[dict[str, Any]]:
    """Without per-step files, only a one-step run has per-step figures: its totals."""
    if len(request.steps) != 1:
        return []
    users, seconds = request.steps[0]
    notes.append("the single step's figures are the run's totals")
    return [
        {
            "users": users,
            "seconds": seconds,
            "requests": totals.requests,
            "failures": totals.failures,
            "requests_per_s": rounded(totals.requests / seconds),
            "failures_percent": totals.failures_percent,
            **totals.latency_metrics(),
        }
    ]


def step_metrics(
    records: list[dict[str, Any]], request: LocustRequest
) -> dict[str, float | int | None]:
    """Flat per-step keys (so that repeats' medians are taken key by key), every step's keys
    present even when not measured, plus the best step's rate and the highest clean step."""
    metrics: dict[str, float | int | None] = {}
    by_users = {record["users"]: record for record in records}
    for users, _ in request.steps:
        record = by_users.get(users, {})
        for name in STEP_METRIC_NAMES:
            metrics[f"step{users}_{name}"] = record.get(name)
    clean = [r["users"] for r in records if r["requests"] and r["failures"] == 0]
    rates = [r["requests_per_s"] for r in records if r["requests_per_s"] is not None]
    # None: no step ran without failures (or no per-step figures; the notes say which).
    metrics["highest_ok_users"] = max(clean) if clean else None
    metrics["max_step_requests_per_s"] = max(rates) if rates else None
    return metrics


STEP_METRIC_NAMES = (
    "requests_per_s",
    "failures_percent",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_avg_ms",
    "latency_min_ms",
    "latency_max_ms",
)


def message_list(messages: Counter[str], limit: int | None = None) -> list[dict[str, Any]]:
    # A list keeps the order by count when the record is written with sorted keys.
    return [{"message": text, "count": n} for text, n in messages.most_common(limit)]


def step_notes(locust_totals: Histogram, steps: Steps) -> list[str]:
    notes = []
    if steps.requests != locust_totals.requests:
        notes.append(
            f"Locust's JSON counted {locust_totals.requests} requests, the per-step files "
            f"{steps.requests}; the figures use the files (with --processes, Locust's master "
            "stops collecting 0.5 s after asking its workers to quit)"
        )
    if steps.late.requests:
        notes.append(
            f"{steps.late.requests} requests were sent after the last step ended (users "
            "finishing their task); they are in the totals but in no step"
        )
    return notes
