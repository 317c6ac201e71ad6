"""One published benchmark figure (``Figure``): its metrics, spread and flags, whether a rate
is a throughput, whether a latency could be observed in its window, its change since the
previous capture and its load tool's ceiling (``Ceiling``). ``figures`` groups them into the
files and machines the pages show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evidence.compare import moved_beyond_spread
from evidence.metrics import lookup
from evidence.vocabulary import ANSWERS_COUNTED_ON_ARRIVAL

# h2load and calibration name protocols alike, except nginx in front of the server: its client
# side is HTTP/2 over TLS, which the load tool has to speak as fast as against h2+tls.
CEILING_PROTOCOL = {"nginx-h2+tls": "h2+tls"}
# Latency percentiles of a timed h2load run, and their share of requests above them. A run
# sees only requests that end inside its window, so a percentile near the window is cut off
# by it; and a percentile needs enough requests above it to mean anything.
PERCENTILES = {
    "latency_p50_ms": 0.5,
    "latency_p90_ms": 0.9,
    "latency_p95_ms": 0.95,
    "latency_p99_ms": 0.99,
    "latency_p99_9_ms": 0.999,
}
# Load tools whose latencies are timed runs: h2load (a latency is cut off by its window) and
# openload (answers are awaited after the window, so only the count above a percentile bounds it).
WINDOWED_TOOLS = ("h2load", "openload")
CENSORED_FROM_SHARE = 0.5  # a latency of half the window or more is cut off by it
MIN_REQUESTS_ABOVE = 5  # a percentile needs at least this many requests above it
# The load tools' own rate: every finished request, answered or failed (h2load's "req/s", and
# Locust's before December 2026). A throughput only where nothing failed.
RATE_COUNTING_FAILURES = "requests_per_s"
# A closed-loop run's answers come in whole rounds when the server answers its clients in turn
# (in the first standard capture, ASGI servers at 200 and 500 clients often finished exact
# multiples of their clients in a window, 6 to 11 requests per client): the rate then moves in
# steps of one answer per client, 1/n of it for n answers per client. Below this many answers
# per client, a rate is shown with its step.
COARSE_BELOW_PER_CLIENT = 10
# The calibration page names a headroom below this many times the fastest Django figure.
HEADROOM_SENTENCE_BELOW = 3.0
# What a page says beside a Locust run rate that counted answers by when their request was sent
# (figures from before December 2026): it holds the queue the server answered after its last
# step, so it is no rate the server held and can exceed what it could answer in the run.
DRAIN_INCLUDED = "includes the queue drained after the last step (not a held rate)"


def is_achieved_rate(name: str) -> bool:
    """A requests/s the load tool achieved (total, per step, or one side of a pair)."""
    found = lookup(name)
    return found is not None and found.metric.achieved_rate


@dataclass(frozen=True)
class Ceiling:
    """The fastest calibration figure of one load tool over one protocol in one capture."""

    tool: str
    protocol: str
    capture: str
    requests_per_s: float
    figure: str


@dataclass(frozen=True)
class Change:
    """A figure's median against the same figure's in the previous capture."""

    before: float
    after: float
    moved: bool  # each median lies outside the other's range: more than the spread
    capture: str  # the earlier capture

    @property
    def percent(self) -> float:
        return (self.after - self.before) / self.before * 100


@dataclass(frozen=True)
class Figure:
    """One published figure and where it comes from."""

    record: dict[str, Any]  # as in the data file: scenario, figure, params, metrics, spread, ...
    server: dict[str, Any]  # the file's server block (id, name, interface, mode, version)
    machine: str
    capture: str
    profile: str
    source: str  # the data file, relative to data/
    has_page: bool  # the server has a /servers/<id>/ page (a run of its checks exists)
    ceiling: Ceiling | None  # of this figure's load tool and protocol, same capture
    tool_protocol: tuple[str, str] | None  # what the ceiling is looked up by
    # The same figure (server, scenario, name) in the newest earlier capture of this machine
    # with the same profile, measured ok: (capture id, its record). Pages show the change.
    previous: tuple[str, dict[str, Any]] | None = None

    @property
    def ok(self) -> bool:
        return self.record["status"] == "ok"

    @property
    def machine_fault(self) -> bool:
        """Failed for a reason of the machine (PostgreSQL, nginx or a load tool could not
        run...): pages then say it was not measured, never that the server failed."""
        return not self.ok and self.record.get("failed_by") == "machine"

    @property
    def failed_word(self) -> str:
        """What a cell of a failed figure says instead of a number."""
        return "not measured" if self.machine_fault else "failed"

    @property
    def params(self) -> dict[str, Any]:
        return self.record["params"]

    def metric(self, name: str) -> float | None:
        value = self.record["metrics"].get(name)
        return value if isinstance(value, int | float) else None

    def flag(self, name: str) -> dict[str, Any] | None:
        """The stored CV flag of metric ``name``, if its spread was flagged when measured."""
        return next((flag for flag in self.record["flags"] if flag["metric"] == name), None)

    def over_ceiling(self, name: str) -> bool:
        value = self.metric(name)
        return (
            is_achieved_rate(name)
            and self.ceiling is not None
            and value is not None
            and value > self.ceiling.requests_per_s / 2
        )

    def best_rate(self) -> float | None:
        """The highest throughput this figure reports (Locust reports a total and per step);
        a rate that counts failed requests, or a queue drained after its window, is not one."""
        rates = [
            value
            for name in self.record["metrics"]
            if is_achieved_rate(name)
            and not self.counts_failures(name)
            and not self.drain_included(name)
            and (value := self.metric(name)) is not None
        ]
        return max(rates) if rates else None

    def drain_included(self, name: str) -> bool:
        """Whether ``name`` is a Locust run's rate that counted each answer by when its
        request was sent (figures without ``answers_counted``): the answers of the queue left
        after the last step are in it, over the steps' time. Per-step rates of such figures
        describe a steady state (as many sent as answered) and are not flagged."""
        return (
            name == "answered_per_s"
            and self.params.get("tool") == "locust"
            and self.params.get("answers_counted") != ANSWERS_COUNTED_ON_ARRIVAL
        )

    def unobservable(self, name: str) -> str | None:
        """Why latency ``name`` of a timed run is not published as measured, or None. h2load:
        it is half the measurement window or more (slower answers could not end inside the
        window, so the distribution is cut off). Both h2load and openload: too few requests
        lie above a percentile to observe it."""
        value, window_s, tool = (
            self.metric(name),
            self.params.get("duration_s"),
            self.params.get("tool"),
        )
        if (
            value is None
            or tool not in WINDOWED_TOOLS
            or not isinstance(window_s, int | float)
            or not (name in PERCENTILES or name == "latency_max_ms")
        ):
            return None
        if tool == "h2load" and value >= CENSORED_FROM_SHARE * window_s * 1000:
            return f"cut off by the {window_s:g} s window: at least {value:,.0f} ms"
        total, share = self.metric("requests_total"), PERCENTILES.get(name)
        if share is not None and total is not None and total * (1 - share) < MIN_REQUESTS_ABOVE:
            return (
                f"too few requests: {total:,.0f} in all, about {total * (1 - share):.0f} above it"
            )
        return None

    def coarse_rate(self, name: str) -> str | None:
        """Why rate ``name`` of an h2load run is coarse, or None: in some repeat its clients
        completed fewer than ``COARSE_BELOW_PER_CLIENT`` requests each, so one answer more or
        less per client moves it by a step of 1/n."""
        clients = self.params.get("clients")
        if (
            not is_achieved_rate(name)
            or self.params.get("tool") != "h2load"
            or not isinstance(clients, int)
            or clients < 1
        ):
            return None
        counts = [
            repeat["metrics"]["requests_total"]
            for repeat in self.record["repeats"]
            if isinstance((repeat.get("metrics") or {}).get("requests_total"), int | float)
        ]
        if not counts:
            return None
        fewest = min(counts) / clients
        if fewest >= COARSE_BELOW_PER_CLIENT:
            return None
        if fewest == 0:
            return "a repeat finished no request"
        return (
            f"coarse: {fewest:.1f} requests per client in a repeat, "
            f"and one more or fewer per client moves the rate {100 / fewest:.0f} %"
        )

    def unanswered(self, name: str) -> str | None:
        """Why an open-model latency has no number: it falls among requests still unanswered
        when the run stopped waiting (openload records those latencies as None)."""
        if self.params.get("tool") != "openload" or not (
            name in PERCENTILES or name == "latency_max_ms"
        ):
            return None
        if name not in self.record["metrics"] or self.metric(name) is not None:
            return None
        waited = self.params.get("drain_s")
        late = self.metric("unanswered_percent")
        share = f"{late:g} % of requests unanswered" if late else "requests timed out"
        return f"later than the run waited ({waited:g} s after its window): {share}"

    def change(self, name: str) -> Change | None:
        """Metric ``name`` against the previous capture; None without a comparable earlier
        figure or where a rate counts failed requests."""
        if self.previous is None or self.counts_failures(name):
            return None
        capture, record = self.previous
        before, after = record["spread"].get(name), self.record["spread"].get(name)
        if not before or not after or not before["median"]:
            return None
        earlier = Figure(
            record, self.server, self.machine, capture, self.profile, "", False, None, None
        )
        if earlier.counts_failures(name):
            return None
        return Change(
            before["median"], after["median"], moved_beyond_spread(before, after), capture
        )

    def failed_share(self, name: str) -> float | None:
        """The highest share of requests (percent) that failed in any repeat of the runs rate
        ``name`` comes from: ``failed_percent`` (h2load) or ``failures_percent`` (Locust),
        with the rate's own prefix (``with_``, ``step300_``...)."""
        prefix = name.removesuffix(RATE_COUNTING_FAILURES)
        for key in (f"{prefix}failed_percent", f"{prefix}failures_percent"):
            spread = self.record["spread"].get(key)
            value = spread["max"] if spread else self.metric(key)
            if isinstance(value, int | float):
                return value
        return None

    def counts_failures(self, name: str) -> bool:
        """Whether rate ``name`` is the load tool's rate of finished requests (answered and
        failed together) from runs in which requests failed: then it is not a throughput and
        no page shows it as one. ``answered_per_s`` counts answered requests only."""
        if not name.endswith(RATE_COUNTING_FAILURES) or name.endswith("target_requests_per_s"):
            return False
        return (self.failed_share(name) or 0.0) > 0.0

    def steps(self, base: str, cpu: int | None = None) -> dict[int, str]:
        """Locust's per-step metrics of ``base`` (of CPU ``cpu`` for a per-CPU metric): users
        -> metric name."""
        found = {}
        for name in self.record["metrics"]:
            meaning = lookup(name)
            if (
                meaning
                and meaning.step_users is not None
                and meaning.metric.name == base
                and meaning.cpu == cpu
            ):
                found[meaning.step_users] = name
        return found

    def cpus(self) -> list[int]:
        """The CPUs this figure has per-step busy shares of (none before December 2026)."""
        found = set()
        for name in self.record["metrics"]:
            meaning = lookup(name)
            if meaning and meaning.cpu is not None and meaning.metric.name == "busy_percent":
                found.add(meaning.cpu)
        return sorted(found)
