"""Locust's statistics read into metrics: the per-step files the locustfiles write, added up
over processes, and Locust's own ``--json-file`` totals.

Every rate counts the answers that *arrived* inside its window (the per-step files place each
request by the time its answer arrived, ``_steps.py``), over the window's duration: a step's
over the step after its ramp, the run's over the steps with their ramps. Answers that arrived
after the last step (the queue a server left behind, drained while Locust stopped) are in no
rate; they are counted apart (``drained_answered``), so that no figure credits a server with
answers it finished after its window."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.benchmarks.locust.command import LocustRequest

STEP_FILE_SCHEMA_VERSION = 3  # 3: requests placed by when their answer arrived (_steps.py)


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
            "latency_p99_ms": rounded(self.percentile_ms(0.99)),
            "latency_avg_ms": rounded(average),
            "latency_max_ms": rounded(self.max_ms),
        }

    @property
    def answered(self) -> int:
        """Requests that got the answer their task expects (Locust's successes)."""
        return self.requests - self.failures

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
    start_s: float = 0.0  # since the run started
    all: Histogram = field(default_factory=Histogram)
    ramp: Histogram = field(default_factory=Histogram)
    ramp_s: float = 0.0
    settling: Histogram = field(default_factory=Histogram)
    settling_s: float | None = None


@dataclass
class Steps:
    """The per-step files of one run, added up over the processes that wrote them."""

    steps: list[StepStats]
    drained: Histogram  # answered (or failed) after the last step ended
    files: int
    started_at: float | None = None  # time.time() when the steps' clock started

    @property
    def requests(self) -> int:
        in_steps = sum(step.all.requests + step.ramp.requests for step in self.steps)
        return in_steps + self.drained.requests

    def totals(self) -> Histogram:
        """Every request of the run: the steps' (ramps included) and the drained ones."""
        totals = Histogram()
        parts = [*(step.all for step in self.steps), *(step.ramp for step in self.steps)]
        for part in [*parts, self.drained]:
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
        add_summary(step.ramp, record["ramp"])
        step.ramp_s = record["ramp"]["seconds"]
        add_summary(step.settling, record["settling"])
        step.settling_s = record["settling"]["seconds"]
        # Workers started within moments of each other; the longest is the step's duration.
        step.ran_s = max(step.ran_s, record["ran_s"])
        step.start_s = record["start_s"]
    started_at = document.get("started_at")
    if started_at is not None and (merged.started_at is None or started_at < merged.started_at):
        merged.started_at = started_at
    add_summary(merged.drained, document["drained"])
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
    """How long the steps were in force, ramps included (the whole run, as an article's)."""
    if steps is None:
        return request.total_s
    return sum(step.ran_s + step.ramp_s for step in steps.steps) or request.total_s


def answered_in_steps(steps: Steps) -> int:
    """Answers that arrived during the steps (ramps in, drained ones out), for the run's rate."""
    return sum(step.all.answered + step.ramp.answered for step in steps.steps)


def total_metrics(
    totals: Histogram, steps: Steps | None, request: LocustRequest
) -> dict[str, float | int | None]:
    """The whole run, ramps included. The only rate is of answered requests: a failed or
    timed-out request is counted in ``failures_total``, never as throughput. Without per-step
    files no answer can be placed in time (Locust's totals include the queue drained after the
    last step), so there is no rate and no drained count: None, and the notes say why."""
    return {
        "requests_total": totals.requests,
        "failures_total": totals.failures,
        "failures_percent": totals.failures_percent,
        # Over the steps' time, like the per-step rates. Locust's own span (first to last
        # request) comes out short in --processes runs, where workers report late.
        "answered_per_s": (
            None
            if steps is None
            else rounded(answered_in_steps(steps) / run_seconds(steps, request))
        ),
        "drained_answered": None if steps is None else steps.drained.answered,
        **totals.latency_metrics(),
    }


def rate(count: int, seconds: float) -> float | None:
    # A step that Locust stopped before (-t, Ctrl-C) has no rate.
    return rounded(count / seconds) if seconds else None


def step_summaries(steps: Steps) -> list[dict[str, Any]]:
    """One record per step (after its ramp): its figures (of the answers that arrived in it),
    failure messages by count, and the ramp and settling parts summarised apart."""
    records = []
    for step in steps.steps:
        record: dict[str, Any] = {
            "users": step.users,
            "seconds": step.seconds,
            "ran_s": step.ran_s,
            "measured_from_s": step.start_s + step.ramp_s,  # since the run started
            "requests": step.all.requests,
            "answered": step.all.answered,
            "failures": step.all.failures,
            "answered_per_s": rate(step.all.answered, step.ran_s),
            "finished_per_s": rate(step.all.requests, step.ran_s),  # answered + failed
            "failures_percent": step.all.failures_percent,
            **step.all.latency_metrics(),
            "requests_by_name": dict(step.all.by_name),
            "failure_messages": message_list(step.all.messages),
            "ramp": {
                "seconds": step.ramp_s,
                "requests": step.ramp.requests,
                "failures": step.ramp.failures,
                **step.ramp.latency_metrics(),
            },
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
    """Without per-step files, only a one-step run has per-step figures: its totals, with no
    rate (Locust's totals hold answers that arrived after the step, which no rate may count)."""
    if len(request.steps) != 1:
        return []
    users, seconds = request.steps[0]
    notes.append(
        "the single step's figures are the run's totals (its ramp and the queue drained after "
        "it included), so it has no rate: no answer could be placed in time"
    )
    return [
        {
            "users": users,
            "seconds": seconds,
            "requests": totals.requests,
            "answered": totals.answered,
            "failures": totals.failures,
            "answered_per_s": None,
            "finished_per_s": None,
            "failures_percent": totals.failures_percent,
            **totals.latency_metrics(),
        }
    ]


def step_metrics(
    records: list[dict[str, Any]], request: LocustRequest
) -> dict[str, float | int | None]:
    """Flat per-step keys (so that repeats' medians are taken key by key), every step's keys
    present even when not measured, plus the best step's answered rate and the highest clean
    step."""
    metrics: dict[str, float | int | None] = {}
    by_users = {record["users"]: record for record in records}
    for users, _ in request.steps:
        record = by_users.get(users, {})
        for name in STEP_METRIC_NAMES:
            metrics[f"step{users}_{name}"] = record.get(name)
    clean = [r["users"] for r in records if r["requests"] and r["failures"] == 0]
    rates = [r["answered_per_s"] for r in records if r["answered_per_s"] is not None]
    # None: no step ran without failures (or no per-step figures; the notes say which).
    metrics["highest_ok_users"] = max(clean) if clean else None
    metrics["max_step_answered_per_s"] = max(rates) if rates else None
    return metrics


STEP_METRIC_NAMES = (
    "answered_per_s",
    "failures_percent",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
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
    if steps.drained.requests:
        notes.append(
            f"drained after the last step: {steps.drained.answered} answers and "
            f"{steps.drained.failures} failures arrived after the last step ended (the queue "
            "the server left, users finishing their task); they are in the totals, in no step "
            "and in no rate"
        )
    return notes
