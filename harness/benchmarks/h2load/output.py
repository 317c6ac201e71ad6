"""h2load's output read into metrics: its summary lines and its per-request ``--log-file``."""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.benchmarks.h2load.command import H2loadRequest

APPLICATION_LINE = re.compile(r"^Application protocol: (\S+)$")
TLS_LINE = re.compile(r"^TLS Protocol: (\S+)$")
FINISHED_LINE = re.compile(
    r"^finished in (?P<elapsed>[\d.]+)(?P<unit>us|ms|s), (?P<rate>[\d.]+) req/s, "
    r"[\d.]+(?:B|KB|MB|GB)/s$"
)
REQUESTS_LINE = re.compile(
    r"^requests: (?P<total>\d+) total, (?P<started>\d+) started, (?P<done>\d+) done, "
    r"(?P<succeeded>\d+) succeeded, (?P<failed>\d+) failed, (?P<errored>\d+) errored, "
    r"(?P<timeout>\d+) timeout$"
)
STATUS_LINE = re.compile(
    r"^status codes: (?P<s2xx>\d+) 2xx, (?P<s3xx>\d+) 3xx, (?P<s4xx>\d+) 4xx, (?P<s5xx>\d+) 5xx$"
)
# Kept verbatim in details["summary"], besides the lines parsed above.
EVIDENCE_LINE = re.compile(r"^(traffic: |time for request: )")
SECONDS_PER_UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


@dataclass(frozen=True)
class Summary:
    """What h2load's summary lines say; None for a line that was not printed."""

    application_protocol: str | None
    tls_protocol: str | None
    elapsed_s: float | None  # "finished in": warm-up included
    requests_per_s: float | None  # done / main duration: answered and failed together
    counts: dict[str, int] | None  # total, started, done, succeeded, failed, errored, timeout
    status_codes: dict[str, int] | None  # s2xx, s3xx, s4xx, s5xx
    lines: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return None not in (self.requests_per_s, self.counts, self.status_codes)


@dataclass(frozen=True)
class RequestLog:
    """The answered requests of the main duration, from ``--log-file``."""

    durations_us: tuple[int, ...]  # rows with status >= 0, sorted
    status_zero: int  # answered, but h2load could not read the status line
    first_start_us: int | None  # of any row
    last_answered_start_us: int | None  # of rows with status >= 0


def parse_summary(output: str) -> Summary:
    """Read the summary lines; each is anchored, so progress chatter never matches."""
    found: dict[str, re.Match[str]] = {}
    kept = []
    patterns = {
        "application": APPLICATION_LINE,
        "tls": TLS_LINE,
        "finished": FINISHED_LINE,
        "requests": REQUESTS_LINE,
        "status": STATUS_LINE,
    }
    for line in output.splitlines():
        line = line.strip()
        for key, pattern in patterns.items():
            if key not in found and (match := pattern.match(line)):
                found[key] = match
                kept.append(line)
        if EVIDENCE_LINE.match(line):
            kept.append(line)
    finished = found.get("finished")
    return Summary(
        application_protocol=found["application"][1] if "application" in found else None,
        tls_protocol=found["tls"][1] if "tls" in found else None,
        elapsed_s=elapsed_seconds(finished) if finished else None,
        requests_per_s=float(finished["rate"]) if finished else None,
        counts=integers(found.get("requests")),
        status_codes=integers(found.get("status")),
        lines=tuple(kept),
    )


def elapsed_seconds(finished: re.Match[str]) -> float:
    return float(finished["elapsed"]) * SECONDS_PER_UNIT[finished["unit"]]


def integers(match: re.Match[str] | None) -> dict[str, int] | None:
    return None if match is None else {key: int(value) for key, value in match.groupdict().items()}


def read_request_log(path: Path) -> RequestLog:
    """Columns: start (µs since the epoch), status (-1 = failed stream), duration (µs).

    More columns may come in later versions; only the first three are read.
    """
    durations: list[int] = []
    status_zero = 0
    first_start: int | None = None
    last_answered: int | None = None
    with path.open(encoding="ascii", errors="replace") as rows:
        for row in rows:
            try:
                start, status, duration = (int(field) for field in row.split("\t")[:3])
            except ValueError:
                continue  # not a request row (h2load writes only those today)
            first_start = start if first_start is None else min(first_start, start)
            if status < 0:
                continue
            status_zero += status == 0
            durations.append(duration)
            last_answered = start if last_answered is None else max(last_answered, start)
    durations.sort()
    return RequestLog(tuple(durations), status_zero, first_start, last_answered)


def latency_percentiles_ms(durations_us: Sequence[int]) -> dict[str, float | None]:
    """p50/p95/p99/max of sorted durations; None when nothing was answered."""
    names = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "latency_max_ms")
    if not durations_us:
        return dict.fromkeys(names)
    if len(durations_us) == 1:
        cuts = [float(durations_us[0])] * 99  # quantiles() needs two points in Python 3.12
    else:
        cuts = statistics.quantiles(durations_us, n=100, method="inclusive")
    values = (cuts[49], cuts[94], cuts[98], float(durations_us[-1]))
    # The log has whole microseconds: finer digits from interpolation mean nothing.
    return {name: round(value / 1000, 3) for name, value in zip(names, values, strict=True)}


def unparsed_status_count(summary: Summary, log: RequestLog) -> int:
    """Answered requests whose status line h2load could not read (``HTTP/1.1 200 ``, no
    reason phrase): it logs them with status 0, counts them as failed and in no status class.

    Bounded by the failures that have neither a status class nor a connection error, so a
    request is never both unparsed and a failure of another kind.
    """
    assert summary.counts is not None and summary.status_codes is not None
    counts, codes = summary.counts, summary.status_codes
    without_status = counts["failed"] - counts["errored"] - codes["s4xx"] - codes["s5xx"]
    return max(0, min(log.status_zero, without_status))


def figures(
    request: H2loadRequest, summary: Summary, log: RequestLog | None
) -> dict[str, float | int | None]:
    """The metrics of a run (valid or not: the caller decides where they go)."""
    counts, codes = summary.counts or {}, summary.status_codes or {}
    total = counts.get("total")
    unparsed = unparsed_status_count(summary, log) if log and summary.complete else 0

    def percent(count: int | None) -> float | None:
        return None if count is None or not total else count / total * 100

    failed = counts.get("failed")
    non2xx = codes["s4xx"] + codes["s5xx"] if codes else None
    metrics: dict[str, float | int | None] = {
        "requests_per_s": summary.requests_per_s,
        "requests_total": total,
        **latency_percentiles_ms(log.durations_us if log else ()),
        "failed_percent": percent(None if failed is None else failed - unparsed),
        "errored_percent": percent(counts.get("errored")),
        "timeout_percent": percent(counts.get("timeout")),
        "non2xx_percent": percent(non2xx),
        "unparsed_status_percent": percent(unparsed if log else None),
    }
    if request.target_requests_per_s is not None:
        metrics["target_requests_per_s"] = request.target_requests_per_s
    done = counts.get("done")
    if summary.requests_per_s is not None and done and failed is not None:
        # h2load's rate is done / main duration; the answered share of done is a throughput.
        answered = done - (failed - unparsed)
        metrics["answered_per_s"] = summary.requests_per_s * answered / done
    elif summary.requests_per_s is not None and done == 0:
        metrics["answered_per_s"] = 0.0
    return metrics


def notes_for(
    metrics: dict[str, Any], log: RequestLog | None, summary: Summary, request: H2loadRequest
) -> list[str]:
    notes = []
    slowest = metrics.get("latency_max_ms")
    if request.requests is None and slowest and slowest / 1000 > request.duration_s / 2:
        notes.append(
            f"answers took up to {slowest:g} ms, more than half of the {request.duration_s:g} s"
            " run: requests still in flight at its end are not in the percentiles, so they"
            " understate the slowest answers (the full profile runs longer)"
        )
    unparsed = metrics.get("unparsed_status_percent")
    if log and summary.complete and unparsed:
        count = unparsed_status_count(summary, log)
        notes.append(
            f"{count} responses had a status line h2load cannot read (no reason phrase, e.g."
            " 'HTTP/1.1 200 '): h2load counted them as failed; here they count as answered"
            " with an unknown status (unparsed_status_percent), not as failures"
        )
    return notes
