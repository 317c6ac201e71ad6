"""The registry of benchmark metrics: every metric a benchmark file may hold, declared once.

Writers, the validator, the pages and the capture diff look a metric up here instead of
guessing its meaning from its name (pyperf's ``METADATA`` registry is the model). A name in a
data file that is not registered fails ``nox -s validate``; a page column that names an
unregistered metric fails the build.

Two families of names are composed from a registered base metric:

- ``step<users>_<base>``: one Locust step (``step300_failures_percent``);
- ``cpu<n>_<base>``: one CPU of the machine, for the metrics declared ``per_cpu`` and only
  for them (``step300_cpu0_busy_percent``: CPU 0 while the 300-user step was measured);
- ``with_<base>`` / ``without_<base>``: the two sides of the sync-middleware pair.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Bounds:
    """The values a metric can take. A number outside them is a fault of the file, not a
    measurement; validation refuses it. Ceilings stand far above anything measured here (so
    they stop a typo or a hostile ``1e308``, never a real figure); nothing is negative."""

    high: float
    # Counted things: every repeat's value is a whole number (a median of two may be x.5).
    whole: bool = False
    low: float = 0.0


@dataclass(frozen=True)
class Unit:
    stored: str  # what the number in the data file counts
    shown: str  # what pages show it in
    bounds: Bounds  # what a metric of this unit can be, unless the metric declares its own
    divisor: float = 1.0  # stored / divisor = shown


# Ten million a second: about 90 times the fastest rate measured on 127.0.0.1 (109,000/s).
RATE = Bounds(10_000_000)
REQUESTS_PER_S = Unit("requests per second", "req/s", RATE)
PER_S = Unit("per second", "/s", RATE)
MILLISECONDS = Unit("milliseconds", "ms", Bounds(86_400_000))  # a day
SECONDS = Unit("seconds", "s", Bounds(86_400))
PERCENT = Unit("percent", "%", Bounds(100))  # a share of requests: 0 to 100
MEBIBYTES = Unit("bytes", "MiB", Bounds(2**44), 2**20)  # 16 TiB
KIBIBYTES = Unit("bytes", "KiB", Bounds(2**44), 2**10)
RATIO = Unit("ratio", "×", Bounds(1_000_000))
COUNT = Unit("count", "", Bounds(10**12, whole=True))
# CPU time over wall time: 100 % per busy core, so up to 100 % times the cores (1024 here).
CORE_PERCENT = Bounds(100 * 1024)


@dataclass(frozen=True)
class Metric:
    name: str
    unit: Unit
    label: str  # short, for a table column or a headline
    # Scenarios whose server pages show this metric in a figure's headline cell.
    headline_in: tuple[str, ...] = ()
    # A move beyond the spread between two captures is reported on /changes/.
    compared: bool = False
    # A rate of answered requests the load tool achieved (compared with the tool's ceiling);
    # False for rates the tool was asked for.
    achieved_rate: bool = False
    # A figure of one CPU: its name always carries ``cpu<n>_``, and only these names may.
    per_cpu: bool = False
    # The values it can take, where they differ from its unit's.
    bounds: Bounds | None = None

    @property
    def allowed(self) -> Bounds:
        """The values a figure of this metric can take (validation refuses any other)."""
        return self.bounds or self.unit.bounds


_LOCUST = ("locust-polls", "locust-upstream")

# Registry order is the order headline cells list their metrics.
METRICS = (
    # Locust step results
    Metric("highest_ok_users", COUNT, "highest users with no failure", ("locust-polls",), True),
    Metric(
        "max_step_answered_per_s",
        REQUESTS_PER_S,
        "best step answered/s",
        _LOCUST,
        achieved_rate=True,
    ),
    # Captures before December 2026 only: every request Locust sent, answered or failed. Pages
    # label it so and never call it throughput.
    Metric("max_step_requests_per_s", REQUESTS_PER_S, "best step sent/s (answered + failed)"),
    # Throughput: requests answered (h2load: 2xx and 3xx; Locust: as the task expects), failed,
    # errored and timed-out requests left out. h2load figures before December 2026 lack it.
    Metric(
        "answered_per_s",
        REQUESTS_PER_S,
        "answered/s",
        ("calibration", "interleaved", "h2load", "fixed-rate-latency"),
        compared=True,
        achieved_rate=True,
    ),
    # The load tool's own rate: every finished request, answered or failed. Pages show it as a
    # throughput only where no request failed (generators.benchmarks.figures.counts_failures).
    Metric(
        "requests_per_s",
        REQUESTS_PER_S,
        "requests/s",
        ("calibration", "h2load", "fixed-rate-latency"),
        compared=True,
        achieved_rate=True,
    ),
    Metric("target_requests_per_s", REQUESTS_PER_S, "target requests/s"),
    # Interleaved rounds: a configuration's answered/s over the reference app's of its
    # interface measured in the same round (drift on the machine moves both alike, so this is
    # the figure compared between captures).
    Metric("reference_ratio", RATIO, "× reference, same round", ("interleaved",), compared=True),
    # Fixed-rate (open-model) runs: the answered rate over the rate asked for; below 95 % the
    # server set the pace, and its latencies are those of a growing queue.
    # Above 100 % when the server answered faster than asked (102.8 % measured); not a share.
    Metric(
        "held_percent",
        PERCENT,
        "held % of the rate",
        ("fixed-rate-latency",),
        bounds=Bounds(1000),
    ),
    Metric("requests_total", COUNT, "requests"),
    # Locust: answers that arrived after the last step ended (the queue a server left behind,
    # drained while Locust stopped). In the run's totals, in no step and in no rate. Figures
    # from before December 2026 lack it: their run rate counted these answers.
    Metric("drained_answered", COUNT, "answered after the last step (drained)"),
    # Latency
    Metric("latency_min_ms", MILLISECONDS, "min ms"),
    Metric(
        "latency_p50_ms", MILLISECONDS, "p50 ms", ("h2load", "fixed-rate-latency"), compared=True
    ),
    Metric("latency_p90_ms", MILLISECONDS, "p90 ms"),
    Metric("latency_p95_ms", MILLISECONDS, "p95 ms", _LOCUST),
    Metric("latency_avg_ms", MILLISECONDS, "average ms", ("locust-upstream",)),
    Metric(
        "latency_p99_ms", MILLISECONDS, "p99 ms", ("h2load", "fixed-rate-latency"), compared=True
    ),
    Metric("latency_p99_9_ms", MILLISECONDS, "p99.9 ms", ("fixed-rate-latency",)),
    Metric("latency_max_ms", MILLISECONDS, "max ms"),
    # How late the open-model generator itself sent requests after they were due (p99): its
    # own delay is inside every latency it reports, so it must stay small beside them.
    Metric("client_lag_p99_ms", MILLISECONDS, "generator lag p99 ms"),
    # Requests that did not succeed, as shares of all requests sent
    Metric("failed_percent", PERCENT, "failed %", ("h2load",)),
    Metric("errored_percent", PERCENT, "errored %"),
    Metric("timeout_percent", PERCENT, "timeout %"),
    # Open-model runs: requests of the window still unanswered when the run stopped waiting.
    Metric("unanswered_percent", PERCENT, "unanswered %", ("fixed-rate-latency",)),
    Metric("non2xx_percent", PERCENT, "non-2xx %", ("h2load",)),
    Metric("unparsed_status_percent", PERCENT, "unparsed status %"),
    Metric("failures_percent", PERCENT, "failures %", _LOCUST, compared=True),
    Metric("failures_total", COUNT, "failed requests"),
    # CPU time over wall time while a Locust step was measured; 100 % is one core busy.
    Metric("server_cpu_percent", PERCENT, "server CPU % of a core", bounds=CORE_PERCENT),
    Metric("locust_cpu_percent", PERCENT, "Locust CPU % of a core", bounds=CORE_PERCENT),
    Metric("nginx_cpu_percent", PERCENT, "nginx CPU % of a core", bounds=CORE_PERCENT),
    Metric("postgres_cpu_percent", PERCENT, "PostgreSQL CPU % of a core", bounds=CORE_PERCENT),
    # One CPU from /proc/stat over a Locust step's measured part (harness.benchmarks.proc_stat):
    # busy (user, nice, system, irq, softirq) and stolen by the hypervisor, as shares of the
    # time that passed. Figures captured before this accounting lack them.
    Metric("busy_percent", PERCENT, "busy %", per_cpu=True),
    Metric("steal_percent", PERCENT, "steal %", per_cpu=True),
    # Peaks while a Locust step was measured: what a server that queues without using its
    # core waits on (its threads; PostgreSQL's connection limit, max_connections).
    Metric("server_threads_peak", COUNT, "server threads at peak"),
    Metric("postgres_connections_peak", COUNT, "PostgreSQL client connections at peak"),
    # Start-up and memory
    Metric("ready_s", SECONDS, "ready s", ("resources",)),
    Metric("processes", COUNT, "processes"),
    Metric("idle_memory_pss_bytes", MEBIBYTES, "idle PSS MiB", ("resources",), compared=True),
    Metric("idle_memory_rss_bytes", MEBIBYTES, "idle RSS MiB"),
    Metric("peak_memory_pss_bytes", MEBIBYTES, "peak PSS MiB", ("resources",)),
    Metric("peak_memory_rss_bytes", MEBIBYTES, "peak RSS MiB"),
    # Sync-only middleware: with / without
    Metric(
        "latency_p50_ratio", RATIO, "p50 with/without", ("sync-middleware-cost",), compared=True
    ),
    Metric("latency_p99_ratio", RATIO, "p99 with/without", ("sync-middleware-cost",)),
    Metric("throughput_ratio", RATIO, "requests/s with/without", ("sync-middleware-cost",)),
    # Idle connections
    Metric("connections_requested", COUNT, "requested"),
    Metric("connections_opened", COUNT, "opened"),
    Metric("connection_errors", COUNT, "connection errors"),
    Metric("connections_still_open", COUNT, "still open", ("idle-connections",), compared=True),
    # Open when the memory was read and the fresh request made, halfway through the hold.
    Metric("connections_open_at_peak", COUNT, "open at peak"),
    Metric("connections_dropped", COUNT, "dropped by the server"),
    # How the opening ended: the count at which the server took no more (its limit), or the
    # opens still under way at the deadline (it was still opening; no limit found).
    Metric("connection_limit", COUNT, "limit (took no more)"),
    Metric("opens_pending_at_deadline", COUNT, "still opening at the deadline"),
    Metric("open_phase_s", SECONDS, "time to open s"),
    Metric("opened_per_s", PER_S, "opened/s"),
    # A new client's request at the peak: 1 if answered 200 within its timeout, else 0.
    Metric(
        "fresh_requests_answered", COUNT, "fresh request answered", bounds=Bounds(1, whole=True)
    ),
    Metric("fresh_request_ms", MILLISECONDS, "fresh request ms"),
    Metric("held_memory_pss_bytes", MEBIBYTES, "PSS while held MiB"),
    Metric("held_memory_rss_bytes", MEBIBYTES, "RSS while held MiB"),
    Metric("memory_per_connection_bytes", KIBIBYTES, "KiB per connection", ("idle-connections",)),
)
REGISTRY = {metric.name: metric for metric in METRICS}
_STEP = re.compile(r"^step(\d+)_(.+)$")
_CPU = re.compile(r"^cpu(\d+)_(.+)$")
SIDES = ("with", "without")


@dataclass(frozen=True)
class MetricName:
    """A name as it appears in a data file: a registered metric, maybe of one step or side."""

    name: str
    metric: Metric
    step_users: int | None = None
    side: str | None = None  # "with" / "without" (the sync-only middleware)
    cpu: int | None = None  # the CPU's number, for per-CPU metrics

    @property
    def label(self) -> str:
        label = self.metric.label if self.cpu is None else f"CPU {self.cpu} {self.metric.label}"
        if self.step_users is not None:
            return f"{label} at {self.step_users} users"
        if self.side is not None:
            return f"{label} {self.side}"
        return label


@functools.cache  # pages look the same few hundred names up once per table cell
def lookup(name: str) -> MetricName | None:
    """What ``name`` means, or None when it is not registered."""
    if name in REGISTRY:
        return None if REGISTRY[name].per_cpu else MetricName(name, REGISTRY[name])
    step = _STEP.match(name)
    if step:
        of_step = lookup(step.group(2))
        if of_step is None or of_step.step_users is not None or of_step.side is not None:
            return None
        return MetricName(name, of_step.metric, step_users=int(step.group(1)), cpu=of_step.cpu)
    cpu = _CPU.match(name)
    if cpu and cpu.group(2) in REGISTRY and REGISTRY[cpu.group(2)].per_cpu:
        return MetricName(name, REGISTRY[cpu.group(2)], cpu=int(cpu.group(1)))
    for side in SIDES:
        base = name.removeprefix(f"{side}_")
        if base != name and base in REGISTRY and not REGISTRY[base].per_cpu:
            return MetricName(name, REGISTRY[base], side=side)
    return None


def metric(name: str) -> MetricName:
    """Like ``lookup``, for names the code itself uses: an unregistered one is a bug."""
    found = lookup(name)
    if found is None:
        raise KeyError(f"{name!r} is not a registered metric (see evidence/metrics.py)")
    return found


def headlines(scenario: str) -> list[Metric]:
    """The metrics a headline cell of ``scenario`` shows, in registry order."""
    return [one for one in METRICS if scenario in one.headline_in]


def compared() -> list[Metric]:
    """The metrics whose moves between captures are reported."""
    return [one for one in METRICS if one.compared]


def unregistered_names(document: dict) -> list[str]:
    """'field: problem' lines for each metric name of a benchmark document that is not
    registered (in a figure's metrics or spread)."""
    problems = []
    for index, figure in enumerate(document.get("results") or []):
        for part in ("metrics", "spread"):
            for name in figure.get(part) or {}:
                if lookup(name) is None:
                    problems.append(
                        f"results/{index}/{part}/{name}: not a registered metric "
                        "(add it to evidence/metrics.py)"
                    )
    return problems
