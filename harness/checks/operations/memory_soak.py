"""Memory over time: does a server, sized as deployed, hold its memory flat under a steady mix
of requests, and where it does not, does one of its documented controls bound it?

RSS can grow for hours while the Python heap stays flat (fragmentation: polarsource/polar#10400;
granian added ``--workers-max-rss`` for it, emmett-framework/granian#34 and #638), and every
server documents a way to replace a worker that grew (Gunicorn's and uWSGI's ``--max-requests``,
uWSGI's ``--reload-on-rss``, Granian's ``--workers-max-rss``, Uvicorn's
``--limit-max-requests``). The check soaks the shared instance with a fixed-rate mix of the
sample project's own requests from openload (the project's open-model generator, one process
per kind of request), samples the RSS and PSS of every process of the server once a second
(``process_memory``), discards a warm-up, and fits a least-squares trend to the total
(``memory_trend``), expressed per 10,000 requests answered. The server definitions declare the
memory controls as options of this check, so the capture runs it again with each of them.
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.benchmarks.measurement import Measurement
from harness.benchmarks.openload.command import OpenloadRequest
from harness.benchmarks.openload.run import run_openload
from harness.checks import Check, CheckContext, Finding
from harness.checks.operations._shared import GROUP
from harness.checks.operations.memory_trend import CONFIDENCE, Trend, fit_trend
from harness.checks.operations.process_memory import ProcessMemorySampler, ProcessSeries

MIB = 1024 * 1024
PER_REQUESTS = 10_000  # slopes are given per this many requests answered


@dataclass(frozen=True)
class Soak:
    warmup_s: float  # at the rate, before the fitted window: discarded
    window_s: float  # the fitted window


# About 2.7 minutes a configuration on a 2-core machine (60 s warm-up, 90 s fitted, openload's
# start and drain): ~6,750 requests and 90 samples in the window. The warm-up is a minute because
# in the first soaks (capture 20261207T145940Z, gunicorn-gthread and uvicorn) memory still rose
# until about 40 s in (Uvicorn's one worker by 10 MiB between 30 and 40 s, Gunicorn's three by
# 4 MiB), then stayed within a MiB to the end: a 30 s warm-up fitted that last step as a trend.
SOAK = Soak(warmup_s=60.0, window_s=90.0)
# The full profile (dedicated machines) soaks 15 minutes after two minutes of warm-up.
LONG_SOAK = Soak(warmup_s=120.0, window_s=900.0)
SOAKS_BY_PROFILE = {"full": LONG_SOAK}
SAMPLE_EVERY_S = 1.0
UPLOAD_BYTES = 1024 * 1024
CONNECTIONS_PER_PART = 8  # openload's pool for each kind of request; opened only when needed
TIMEOUT_S = 10.0
DRAIN_S = 10.0
# The bound on the total's growth: 1 MiB per 10,000 requests, about 100 bytes a request. At it,
# a server answering a million requests a day grows by 100 MiB a day, about two of this
# project's worker processes; a real leak of one small object per request (a dict, a request's
# headers) is above it.
BOUND_MIB_PER_10K = 1.0
# What the total's slope showed (trend_word); the evidence schema's enum is tested against it.
TRENDS = ("flat", "not-shown", "grows")
# More failures than this and the soak did not run at the stated load: no verdict.
FAILED_LIMIT_PERCENT = 5.0


@dataclass(frozen=True)
class Part:
    """One kind of request of the mix, at its own rate, from its own openload process."""

    id: str
    title: str
    endpoints: dict[str, str]  # interface -> endpoint name in endpoints.toml
    query: str
    rate: float  # requests per second
    uploads: bool = False  # a POST of UPLOAD_BYTES


MIX = (
    Part("json", "JSON view", {"wsgi": "json_sync", "asgi": "json_async"}, "", 40.0),
    Part("orm", "ORM read", {"wsgi": "orm_sync", "asgi": "orm_async"}, "", 20.0),
    Part("upload", "1 MiB upload", {"wsgi": "echo_count", "asgi": "echo_count"}, "", 5.0, True),
    Part(
        "stream",
        "short stream",
        {"wsgi": "stream_sync", "asgi": "stream_async"},
        "chunks=5&delay=0.01",
        10.0,
    ),
)

UNDETERMINED = (
    "Undetermined: the growth is in the worker processes, where the server's code, Django and "
    "the project's views run together; the check ran no app without Django beside it to tell "
    "them apart, so it is not counted against the server."
)

THRESHOLDS = (
    "On the shared instance (sized as deployed), openload sends a fixed-rate mix, each kind "
    "from its own process: "
    + ", ".join(f"{part.title} {part.rate:g}/s" for part in MIX)
    + f" ({sum(part.rate for part in MIX):g} requests/s; the interface's own idiom of each "
    f"view; the upload a POST of {UPLOAD_BYTES // MIB} MiB to /echo/count, which reads it in "
    f"pieces), for {SOAK.warmup_s:g} s of warm-up, discarded, then a {SOAK.window_s:g} s "
    f"window ({LONG_SOAK.warmup_s:g} s and {LONG_SOAK.window_s:g} s with the full profile). "
    f"The RSS and PSS of the server's process and of each of its descendants are read every "
    f"{SAMPLE_EVERY_S:g} s; a process that exits is a series of its own and the next one to "
    "appear its replacement. The total (PSS summed over the tree, so shared pages count once) "
    "in the window gets a least-squares slope, per 10,000 requests answered (the slope per "
    f"second over the rate answered), with its {CONFIDENCE:.0%} interval widened for "
    "autocorrelated samples (effective samples n(1-r1)/(1+r1)). Memory grows when the whole "
    f"interval lies above {BOUND_MIB_PER_10K:g} MiB per 10,000 requests (about 100 bytes a "
    "request); it is flat when the whole interval lies below, and an interval that holds the "
    "bound is growth not told apart from noise, which counts as none. Outcome: yes = "
    "no growth and no worker replaced; partial = no growth, with workers replaced during the "
    "soak (a memory control such as --max-requests bounds it; the capture runs the server's "
    "documented controls as options, where the default soak was not yes); no = growth. The "
    "cause of a no or partial is the server's only where its own main process, which serves "
    "no request, grew; growth inside workers, which run Django and the project's views, is "
    "recorded as undetermined. Error = "
    f"more than {FAILED_LIMIT_PERCENT:g} % of the requests failed or a load did not run."
)


def soak_for(profile_name: str) -> Soak:
    return SOAKS_BY_PROFILE.get(profile_name, SOAK)


def _mib(value: float | None) -> float | None:
    return None if value is None else round(value / MIB, 3)


def trend_record(trend: Trend | None, per_10k: float) -> dict[str, Any]:
    """A trend of bytes per second as MiB per 10,000 requests (``per_10k``: seconds per 10,000
    requests answered), for the evidence."""
    if trend is None:
        return {"slope": None, "low": None, "high": None, "reason": "too few samples to fit"}
    scaled = trend.scaled(per_10k / MIB)

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return {
        "slope": rounded(scaled.slope),
        "low": rounded(scaled.low),
        "high": rounded(scaled.high),
        "samples": scaled.samples,
        "effective_samples": scaled.effective_samples,
        "lag1_autocorrelation": scaled.lag1_autocorrelation,
    }


def in_window(times: list[float], values: list[int], soak: Soak) -> tuple[list[float], list[int]]:
    end = soak.warmup_s + soak.window_s
    kept = [(t, v) for t, v in zip(times, values, strict=True) if soak.warmup_s <= t <= end]
    return [t for t, _ in kept], [v for _, v in kept]


def _extent(values: list[int]) -> dict[str, float | None]:
    return {"start": _mib(values[0]), "end": _mib(values[-1]), "peak": _mib(max(values))}


def process_record(
    series: ProcessSeries, soak: Soak, per_10k: float, last_s: float
) -> dict[str, Any]:
    """One process: its extent over its life, and its slope inside the window."""
    times, pss = in_window(series.times, series.pss, soak)
    _, rss = in_window(series.times, series.rss, soak)
    return {
        "pid": series.pid,
        "role": series.role,
        "command": series.command,
        "first_seen_s": series.first_s,
        "last_seen_s": series.last_s,
        "replaces": series.replaces,
        "replaced_by": series.replaced_by,
        "ended_early": series.last_s < last_s,
        "rss_mib": _extent(series.rss),
        "pss_mib": _extent(series.pss),
        "rss_slope_mib_per_10k": trend_record(fit_trend(times, rss), per_10k),
        "pss_slope_mib_per_10k": trend_record(fit_trend(times, pss), per_10k),
    }


def load_record(part: Part, path: str, measurement: Measurement) -> dict[str, Any]:
    result = measurement.details.get("result") or {}
    failed = {
        kind: result.get(kind, 0) for kind in ("non2xx", "errored", "timed_out", "unanswered")
    }
    return {
        "id": part.id,
        "title": part.title,
        "path": path,
        "rate_per_s": part.rate,
        "body_bytes": UPLOAD_BYTES if part.uploads else 0,
        "connections": CONNECTIONS_PER_PART,
        "failure": measurement.failure,
        "due": result.get("scheduled", 0),
        "answered": result.get("answered", 0),
        "answered_per_s": measurement.metrics.get("answered_per_s"),
        "failed": sum(failed.values()),
        "failed_by_kind": failed,
        "statuses": result.get("statuses", {}),
        "latency_p50_ms": measurement.metrics.get("latency_p50_ms"),
        "latency_p99_ms": measurement.metrics.get("latency_p99_ms"),
        "command": measurement.details.get("command", []),
    }


def request_counts(loads: list[dict[str, Any]]) -> dict[str, Any]:
    """The window's requests over the whole mix: due, answered, failed, and the rate answered
    (answers that arrived inside the window, per second)."""
    return {
        "due": sum(load["due"] for load in loads),
        "answered": sum(load["answered"] for load in loads),
        "failed": sum(load["failed"] for load in loads),
        "answered_per_s": round(sum(load["answered_per_s"] or 0 for load in loads), 2),
        "target_per_s": sum(part.rate for part in MIX),
    }


def run_mix(context: CheckContext, soak: Soak, scratch: Path) -> dict[str, Any]:
    """The soak: the mix's openload processes side by side, the tree sampled meanwhile."""
    interface = context.server.interface
    requests = {}
    paths = {}
    for part in MIX:
        path = context.endpoints[part.endpoints[interface]]
        paths[part.id] = path + (f"?{part.query}" if part.query else "")
        requests[part.id] = OpenloadRequest(
            url=context.url(part.endpoints[interface], part.query),
            rate=part.rate,
            connections=CONNECTIONS_PER_PART,
            warmup_s=soak.warmup_s,
            duration_s=soak.window_s,
            drain_s=DRAIN_S,
            timeout_s=TIMEOUT_S,
            body_bytes=UPLOAD_BYTES if part.uploads else 0,
        )
    origin = time.monotonic()
    with (
        ProcessMemorySampler(context.shared.process.pid, SAMPLE_EVERY_S, origin) as sampler,
        ThreadPoolExecutor(max_workers=len(MIX)) as pool,
    ):
        futures = {part.id: pool.submit(run_openload, requests[part.id], scratch) for part in MIX}
        measured = {key: future.result() for key, future in futures.items()}
    return {
        "loads": [load_record(part, paths[part.id], measured[part.id]) for part in MIX],
        "series": sampler.series(),
        "snapshots": sampler.snapshots,
        "sampler_stopped": sampler.stopped_because,
    }


def _interval(record: dict[str, Any]) -> str:
    if record["low"] is None:
        return "no interval: too few or too correlated samples"
    return f"{CONFIDENCE:.0%} interval {record['low']:+.2f} to {record['high']:+.2f}"


def grows(slope: dict[str, Any]) -> bool:
    """Whether a slope record's whole interval lies above the bound."""
    return slope["low"] is not None and slope["low"] > BOUND_MIB_PER_10K


def trend_word(slope: dict[str, Any]) -> str:
    """``grows`` (the whole interval above the bound), ``flat`` (the whole interval below it)
    or ``not-shown`` (the interval holds the bound, or there is none): growth not told apart
    from noise, which counts as no growth."""
    if grows(slope):
        return "grows"
    if slope["high"] is not None and slope["high"] < BOUND_MIB_PER_10K:
        return "flat"
    return "not-shown"


def main_process_grew(processes: list[dict[str, Any]]) -> bool:
    """Whether the server's own process grew, where it has children beside it: it then serves
    no request (Gunicorn's arbiter, uWSGI's master, a supervisor), so its growth is the
    server's whatever Django does."""
    main, children = processes[0], processes[1:]
    return bool(children) and grows(main["pss_slope_mib_per_10k"])


def judge(
    total: dict[str, Any], main_grew: bool, replaced: list[dict[str, Any]]
) -> tuple[str, str, str]:
    """(outcome, cause, cause_detail) by the rule in THRESHOLDS, from the total's PSS slope."""
    growing = grows(total)
    if not growing and not replaced:
        return "yes", "server", ""
    cause = ("server", "") if main_grew else ("undetermined", UNDETERMINED)
    return ("no" if growing else "partial"), *cause


def _summary(
    outcome: str, total: dict[str, Any], counts: dict[str, Any], processes: list[dict[str, Any]]
) -> str:
    replaced = [p for p in processes if p["replaced_by"] is not None or p["replaces"]]
    slope = total["pss_slope_mib_per_10k"]
    heads = {"flat": "Flat", "not-shown": "No growth shown", "grows": "Grows"}
    head = heads[trend_word(slope)]
    if outcome == "partial":
        head = f"Bounded by replacing workers ({head.lower()})"
    pss = total["pss_mib"]
    exited = sum(1 for p in processes if p["replaced_by"] is not None)
    workers = (
        f"{exited} process{'es' if exited != 1 else ''} replaced mid-soak"
        if replaced
        else "no process replaced"
    )
    if lost := [p for p in processes if p["replaced_by"] is None and p["ended_early"]]:
        workers += f", {len(lost)} exited without a replacement"
    return (
        f"{head}: total PSS {slope['slope']:+.2f} MiB per {PER_REQUESTS:,} requests "
        f"({_interval(slope)}; bound {BOUND_MIB_PER_10K:g}), {pss['after_warmup']:.1f} -> "
        f"{pss['end']:.1f} MiB after the warm-up (peak {pss['peak']:.1f}), "
        f"{counts['answered']:,} requests answered in the window at "
        f"{counts['answered_per_s']:g}/s, {counts['failed']:,} failed; {workers}."
    )


def _total(snapshots: list[Any], soak: Soak, per_10k: float) -> dict[str, Any]:
    times = [s.at_s for s in snapshots]
    record: dict[str, Any] = {}
    for kind in ("rss", "pss"):
        values = [s.total(kind) for s in snapshots]
        window_times, window_values = in_window(times, values, soak)
        record[f"{kind}_mib"] = {
            **_extent(values),
            "after_warmup": _mib(window_values[0]) if window_values else None,
        }
        record[f"{kind}_slope_mib_per_10k"] = trend_record(
            fit_trend(window_times, window_values), per_10k
        )
    return record


def _run(context: CheckContext) -> Finding:
    soak = soak_for(context.profile.name)
    scratch = (
        context.launcher.scratch
        if context.launcher is not None
        else Path(tempfile.mkdtemp(prefix="memory-soak-"))
    )
    evidence: dict[str, Any] = {
        "instance": context.shared.describe(),
        "sizing": context.capacity_text(),
        "profile": context.profile.name,
        "warmup_s": soak.warmup_s,
        "window_s": soak.window_s,
        "sample_every_s": SAMPLE_EVERY_S,
        "bound_mib_per_10k": BOUND_MIB_PER_10K,
    }
    log_offset = len(context.shared.log_text())
    soaked = run_mix(context, soak, scratch)
    loads = soaked["loads"]
    evidence["loads"] = loads
    evidence["server_log"] = context.shared.log_text()[log_offset:][-4000:]
    if broken := [load for load in loads if load["failure"]]:
        return Finding(
            "error",
            "Not measured: "
            + "; ".join(f"the {load['title']} load failed: {load['failure']}" for load in broken),
            evidence,
        )
    counts = request_counts(loads)
    evidence["requests"] = counts
    due = counts["due"]
    failed_percent = 100 * counts["failed"] / due if due else 100.0
    if failed_percent > FAILED_LIMIT_PERCENT or not counts["answered_per_s"]:
        return Finding(
            "error",
            f"Not measured at the stated load: {counts['failed']:,} of {due:,} requests due in "
            f"the window failed ({failed_percent:.1f} %, more than {FAILED_LIMIT_PERCENT:g} %).",
            evidence,
        )
    snapshots = soaked["snapshots"]
    if soaked["sampler_stopped"] or len(snapshots) < 2:
        return Finding(
            "error",
            f"Not measured: memory sampling stopped ({soaked['sampler_stopped']}).",
            evidence,
        )
    per_10k = PER_REQUESTS / counts["answered_per_s"]  # seconds per 10,000 answered requests
    last_s = snapshots[-1].at_s
    processes = [process_record(series, soak, per_10k, last_s) for series in soaked["series"]]
    total = _total(snapshots, soak, per_10k)
    evidence["total"] = total
    if total["pss_slope_mib_per_10k"]["slope"] is None:
        return Finding(
            "error",
            f"Not measured: {len(snapshots)} memory samples, too few in the window to fit.",
            evidence,
        )
    evidence["processes"] = processes
    evidence["timeline"] = [
        [s.at_s, _mib(s.total("pss")), _mib(s.total("rss")), len(s.readings)] for s in snapshots
    ]
    main_grew = main_process_grew(processes)
    replaced = [p for p in processes if p["replaced_by"] is not None]
    outcome, cause, detail = judge(total["pss_slope_mib_per_10k"], main_grew, replaced)
    evidence["trend"] = trend_word(total["pss_slope_mib_per_10k"])
    evidence["cause"] = None
    if outcome != "yes":
        evidence["cause"] = "server: its main process grew" if main_grew else "undetermined"
    return Finding(outcome, _summary(outcome, total, counts, processes), evidence, cause, detail)


CHECK = Check(
    heavy=True,
    id="memory-soak",
    title="Memory over time",
    group=GROUP,
    question=(
        "Under a steady mix of requests (JSON, an ORM read, a 1 MiB upload, a short stream) "
        "for minutes, does the server's memory stay flat, and where it grows, does one of its "
        "documented controls bound it?"
    ),
    thresholds=THRESHOLDS,
    run=_run,
    # A memory control has nothing to bound where the default soak was flat and replaced no
    # worker: its 2.5 minutes are spent only where the default showed something.
    options_when=lambda default: default["outcome"] != "yes",
)
