"""Run h2load once for a fixed duration and turn its output into a Measurement.

Rates and counters come from h2load's summary lines, percentiles from its per-request
``--log-file`` (deleted once read). h2load exits 0 even when every request failed, so its exit
code proves nothing: a run is valid only if its output says so (see ``failure_reason``).
RESEARCH.md section 1 holds the facts relied on here, each checked against h2load 1.52.

Metric names end in their unit; ``None`` means "not measured". Percentages are of h2load's
``total``. A failed run has no metrics at all: what was parsed is kept in ``details["parsed"]``,
so nothing from it can be published as a figure.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.benchmarks.measurement import Measurement

H2LOAD = "h2load"
PROTOCOLS = ("http/1.1", "h2", "h2c")
# h2 offers only h2 by ALPN: a server without it then fails fast with no protocol, where
# offering http/1.1 as well would measure HTTP/1.1 (and can hang h2load, see TIMEOUT_HINT).
PROTOCOL_FLAGS = {"http/1.1": ["--h1"], "h2": ["--npn-list=h2"], "h2c": ["-p", "h2c"]}
SCHEMES = {"http/1.1": ("http", "https"), "h2": ("https",), "h2c": ("http",)}
TIMEOUT_MARGIN_S = 30.0
TIMEOUT_PER_CLIENT_S = 0.05  # opening and closing connections takes longer with many clients
FIXED_RATE_MIN_FRACTION = 0.98  # below this the server set the pace: not a fixed-rate figure
TOO_SHORT = "the run was too short for this load"  # scenarios retry such runs, longer
HUNG = "h2load did not finish"  # ... and these: a longer run may end cleanly
# h2load prints this when its main duration is over, stops its clients and exits within
# milliseconds; still running STOPPING_GRACE_S later, it hung (see TIMEOUT_HINT) and is killed
# then, rather than at the run's timeout.
STOPPING_LINE = "Main benchmark duration is over"
STOPPING_GRACE_S = 2.0
POLL_INTERVAL_S = 0.02
NOTHING_ANSWERED = "no request was answered"  # ... and these: connections may still be opening
STALE_TOLERANCE_S = 1.0  # the last answered request may start this long before the end
VERSION_TIMEOUT_S = 10.0
OUTPUT_TAIL_LINES = 20
# h2load 1.52 never exits after a -D run whose server closed HTTP/1.1 connections after every
# response (``Connection: close``): it prints "Stopped all clients" and spins.
TIMEOUT_HINT = (
    "; it had stopped its clients and hung, as h2load 1.52 does when the server closes"
    " the connection after every response"
)

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
VERSION_LINE = re.compile(r"^h2load nghttp2/(\S+)$")


@dataclass(frozen=True)
class H2loadRequest:
    url: str  # http:// or https:// on 127.0.0.1
    clients: int
    protocol: str  # "http/1.1" | "h2" (TLS, by ALPN) | "h2c" (cleartext, prior knowledge)
    duration_s: float  # main duration (-D)
    warmup_s: float  # --warm-up-time
    rps_per_client: float | None = None  # fixed-rate mode (--rps, per client; closed loop)
    threads: int = 1  # -t (must be <= clients)
    # Count mode (-n): a fixed number of requests instead of a duration. h2load 1.52 hangs at
    # the end of a -D run against a server that closes the connection after every response
    # (gunicorn's sync worker), so those servers are measured by count; no warm-up inside.
    requests: int | None = None

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol {self.protocol!r} is not one of {PROTOCOLS}")
        scheme = urlsplit(self.url).scheme
        if scheme not in SCHEMES[self.protocol]:
            raise ValueError(f"{self.protocol} needs a {' or '.join(SCHEMES[self.protocol])} URL")
        if not 1 <= self.threads <= self.clients:
            raise ValueError("h2load needs 1 <= threads <= clients")
        # h2load takes whole numbers with a unit: durations are passed in ms.
        if self.duration_s < 0.001 or self.warmup_s < 0:
            raise ValueError("duration_s must be >= 1 ms and warmup_s >= 0")
        if self.rps_per_client is not None and not self.rps_per_client > 0:
            raise ValueError("rps_per_client must be > 0")
        if self.requests is not None and self.requests < self.clients:
            raise ValueError("count mode needs at least one request per client")

    @property
    def target_requests_per_s(self) -> float | None:
        if self.rps_per_client is None:
            return None
        return self.clients * self.rps_per_client


@dataclass(frozen=True)
class Summary:
    """What h2load's summary lines say; None for a line that was not printed."""

    application_protocol: str | None
    tls_protocol: str | None
    elapsed_s: float | None  # "finished in": warm-up included
    requests_per_s: float | None  # done / main duration
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


def duration_text(seconds: float) -> str:
    """h2load accepts whole numbers with a unit (``-D 0.5`` is a "value error")."""
    return f"{round(seconds * 1000)}ms"


def h2load_command(request: H2loadRequest, log_path: Path) -> list[str]:
    command = [
        H2LOAD,
        *PROTOCOL_FLAGS[request.protocol],
        "-c",
        str(request.clients),
        "-t",
        str(request.threads),
        *(
            [
                "-D",
                duration_text(request.duration_s),
                "--warm-up-time",
                duration_text(request.warmup_s),
            ]
            if request.requests is None
            # A hung connection would stall a count run forever: give up after 10 s silent.
            else ["-n", str(request.requests), "-N", "10s"]
        ),
        "--log-file",
        str(log_path),
    ]
    if request.rps_per_client is not None:
        command += ["--rps", f"{request.rps_per_client:g}"]
    return [*command, request.url]


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
    return metrics


def failure_reason(
    request: H2loadRequest,
    summary: Summary,
    log: RequestLog | None,
    output_line: str,
    ended_at_s: float,
) -> str | None:
    """Why this run is no valid figure, or None; ``ended_at_s`` is when h2load exited (epoch)."""
    if not summary.complete:
        return f"h2load printed no summary ({output_line})"
    if summary.application_protocol is None and summary.tls_protocol is not None:
        return (
            f"the TLS handshake worked ({summary.tls_protocol}) but the server did not agree to"
            f" {request.protocol} by ALPN"
        )
    if summary.application_protocol is None:
        return f"no connection could be made ({output_line})"
    if summary.application_protocol != request.protocol:
        return f"h2load spoke {summary.application_protocol}, not the {request.protocol} asked for"
    counts = summary.counts or {}
    if counts["done"] == 0 and counts["started"] > 0 and counts["failed"] == counts["errored"] == 0:
        # Requests sent and none failed: they were still waiting for their answers when the
        # run ended. A slow server under many new connections, not a broken one.
        return (
            f"{TOO_SHORT}: no answer arrived within the {request.duration_s:g} s main duration"
            f" ({counts['started']} requests sent, none answered, none failed)"
        )
    if counts["done"] == 0 or log is None or log.last_answered_start_us is None:
        return (
            f"{NOTHING_ANSWERED} in the main duration ({counts['started']} started,"
            f" {counts['done']} done): the server dropped the connections, never answered,"
            f" or does not speak {request.protocol}"
        )
    # A paced run is judged by its achieved rate instead: h2load paces each client in bursts,
    # so its last request may start well before the end, and a stall lowers the rate anyway.
    paced = request.rps_per_client is not None
    if (
        request.requests is None
        and not paced
        and (reason := stale_reason(request, log, ended_at_s))
    ):
        return reason
    return fixed_rate_reason(request, summary)


def stale_reason(request: H2loadRequest, log: RequestLog, ended_at_s: float) -> str | None:
    """Requests that stop before the end mean the connections died or hung: h2load never
    reconnects HTTP/2, and a hung connection is counted nowhere."""
    assert log.first_start_us is not None and log.last_answered_start_us is not None
    # Both bounds are at or after the real end; the smaller one is the closer.
    end_us = min(log.first_start_us + request.duration_s * 1e6, ended_at_s * 1e6)
    tolerance_s = min(STALE_TOLERANCE_S, request.duration_s / 4)
    # A saturated server leaves a gap as long as its slowest answers: the requests started in
    # that last stretch are still in flight when the run ends (and are not logged). Dead
    # connections leave a gap far longer than any answer took.
    if log.durations_us:
        tolerance_s += log.durations_us[-1] / 1e6
    if request.target_requests_per_s is not None:
        tolerance_s += 2 / request.target_requests_per_s  # the gap between two paced requests
    gap_s = (end_us - log.last_answered_start_us) / 1e6
    if gap_s <= tolerance_s:
        return None
    slowest_s = log.durations_us[-1] / 1e6 if log.durations_us else 0.0
    if slowest_s > request.duration_s / 2:
        return (
            f"{TOO_SHORT}: answers took up to {slowest_s:.2f} s, so most requests of the"
            f" {request.duration_s:g} s run were still in flight at its end"
        )
    why = " (h2load never reconnects HTTP/2)" if request.protocol != "http/1.1" else ""
    return (
        f"the last answered request started {gap_s:.2f} s before the end of the"
        f" {request.duration_s:g} s main duration: the server closed or stopped answering the"
        f" connections{why}"
    )


def fixed_rate_reason(request: H2loadRequest, summary: Summary) -> str | None:
    target, achieved = request.target_requests_per_s, summary.requests_per_s
    if target is None or achieved is None:
        return None
    # A client paced at r per second fits only whole requests into the run: 3/s over 1.5 s is
    # 4 requests, not 4.5. Judge against what the pacing can send, not the nominal rate.
    if request.requests is None and request.rps_per_client:
        whole = math.floor(request.duration_s * request.rps_per_client + 1e-9)
        target = min(target, request.clients * whole / request.duration_s)
    if achieved >= FIXED_RATE_MIN_FRACTION * target:
        return None
    return f"not a fixed-rate figure: the server kept up with only {achieved:g} of {target:g} req/s"


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


def h2load_version() -> str | None:
    """``1.52.0`` from ``h2load nghttp2/1.52.0``; None when h2load is missing or unclear."""
    if shutil.which(H2LOAD) is None:
        return None
    try:
        result = subprocess.run(
            [H2LOAD, "--version"],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    for line in result.stdout.splitlines():
        if match := VERSION_LINE.match(line.strip()):
            return match[1]
    return None
