"""The benchmark files and figures the pages show, and the load tools' ceilings.

The latest file per machine and server is shown, grouped per machine: figures measured on
different machines are never put in one table or chart. Each requests/s figure is compared
with the load tool's own ceiling, measured in the same capture's ``calibration.json``. The
interleaved rounds' file (``interleaved.json``: every configuration and two reference apps in
one run) is shown apart, each of its figures under the server or reference app it measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evidence.compare import moved_beyond_spread
from evidence.metrics import lookup
from evidence.setups import figure_setup_differences
from evidence.validation import Evidence, Loaded
from evidence.vocabulary import ANSWERS_COUNTED_ON_ARRIVAL, CALIBRATION_ID, INTERLEAVED_ID
from generators.definitions import presented, presented_servers
from generators.model import row_order

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


@dataclass(frozen=True)
class BenchmarkFile:
    document: dict[str, Any]
    source: str
    figures: list[Figure]
    has_page: bool

    @property
    def server(self) -> dict[str, Any]:
        return self.document["server"]

    def failed(self) -> int:
        return sum(not figure.ok for figure in self.figures)

    def flagged(self) -> int:
        return sum(bool(figure.record["flags"]) for figure in self.figures)


@dataclass(frozen=True)
class MachineBenchmarks:
    machine: dict[str, Any]
    files: list[BenchmarkFile]  # newest per server and scenario, matrix order; no calibration
    calibration: BenchmarkFile | None  # the latest calibration on this machine
    ceilings: dict[str, list[Ceiling]]  # capture -> ceilings, for every capture shown
    # The latest interleaved rounds on this machine: its figures name their target's server.
    interleaved: BenchmarkFile | None = None
    # Every interleaved file of this machine by capture: a capture's other pages cite the
    # figure its rounds measured where they measured the same thing (shared_points).
    interleaved_by_capture: dict[str, BenchmarkFile] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.machine["id"]

    def shown_files(self) -> list[BenchmarkFile]:
        """Calibration first, then the interleaved rounds, then the servers' files."""
        capture_wide = [file for file in (self.calibration, self.interleaved) if file]
        return capture_wide + self.files

    def figures(self, scenario: str) -> list[Figure]:
        files = [self.interleaved] if self.interleaved else []
        return [
            f
            for file in [*files, *self.files]
            for f in file.figures
            if f.record["scenario"] == scenario
        ]

    def captures_without_calibration(self) -> list[str]:
        return sorted({file.document["capture"] for file in self.files} - set(self.ceilings))

    def headroom(self) -> list[dict[str, Any]]:
        """Per ceiling of the latest calibration: the fastest Django figure of that capture
        measured with the same tool and protocol, and how many times faster the tool went."""
        if self.calibration is None:
            return []
        capture = self.calibration.document["capture"]
        rows = []
        for ceiling in self.ceilings.get(capture, []):
            candidates = [
                figure
                for file in self.files
                for figure in file.figures
                if figure.capture == capture
                and figure.tool_protocol == (ceiling.tool, ceiling.protocol)
                and figure.best_rate() is not None
            ]
            fastest = max(candidates, key=lambda f: f.best_rate() or 0.0, default=None)
            rate = fastest.best_rate() if fastest else None
            rows.append(
                {
                    "ceiling": ceiling,
                    "fastest": fastest,
                    "rate": rate,
                    "headroom": ceiling.requests_per_s / rate if rate else None,
                }
            )
        return rows


@dataclass(frozen=True)
class Benchmarks:
    machines: list[MachineBenchmarks] = field(default_factory=list)

    def files(self) -> list[BenchmarkFile]:
        """Every shown file: calibration first on each machine."""
        return [file for machine in self.machines for file in machine.shown_files()]

    def for_server(self, server_id: str) -> list[tuple[MachineBenchmarks, BenchmarkFile]]:
        return [
            (machine, file)
            for machine in self.machines
            for file in machine.files
            if file.server["id"] == server_id
        ]


# What the pages call the reference apps of the interleaved rounds (the site's words).
# Short: they label chart bars. The page's introduction says what each app is.
REFERENCE_NAMES = {
    "ref-wsgi": "Reference WSGI app (no Django)",
    "ref-asgi": "Reference ASGI app (no Django)",
    "raw-wsgi": "Trivial WSGI app (first reference)",
    "raw-asgi": "Trivial ASGI app (first reference)",
}


def interleaved_target(record: dict[str, Any], servers: dict[str, dict[str, Any]]) -> dict:
    """The server block of what an interleaved figure measured: a configuration, as the
    site presents it from its definition, or a reference app."""
    params = record["params"]
    target = str(params.get("target"))
    block = {
        "id": target,
        "name": REFERENCE_NAMES.get(target, target),
        "interface": params.get("interface") or "none",
        "mode": "none",
        "version": params.get("server_version"),
    }
    return block if target in REFERENCE_NAMES else presented(block, servers)


def tool_protocol(record: dict[str, Any]) -> tuple[str, str] | None:
    """(load tool, protocol) a figure was measured with, as calibration names them."""
    params = record["params"]
    tool = params.get("tool")
    if not isinstance(tool, str):
        return None
    # Locust always speaks plain HTTP/1.1 to the server; its figures do not repeat that.
    protocol = params.get("protocol", "http/1.1" if tool == "locust" else None)
    if not isinstance(protocol, str):
        return None
    return tool, CEILING_PROTOCOL.get(protocol, protocol)


def ceilings_of(document: dict[str, Any]) -> list[Ceiling]:
    """The best figure of each tool and protocol in one calibration file."""
    best: dict[tuple[str, str], Ceiling] = {}
    for record in document["results"]:
        key = tool_protocol(record)
        rates = [
            value
            for name, value in record["metrics"].items()
            if is_achieved_rate(name)
            and isinstance(value, int | float)
            # An old Locust run rate counts answers after its window: not the tool's speed.
            and not (
                name == "answered_per_s"
                and record["params"].get("tool") == "locust"
                and record["params"].get("answers_counted") != ANSWERS_COUNTED_ON_ARRIVAL
            )
        ]
        if record["status"] != "ok" or key is None or not rates:
            continue
        if key not in best or max(rates) > best[key].requests_per_s:
            best[key] = Ceiling(key[0], key[1], document["capture"], max(rates), record["figure"])
    return sorted(best.values(), key=lambda ceiling: (ceiling.tool, ceiling.protocol))


def _shown(files: list[Loaded]) -> list[tuple[Loaded, frozenset[str]]]:
    """The files shown and which of their scenarios: for each (machine, server, scenario), the
    newest file that measured it. A capture of one scenario (``--scenario locust-upstream``)
    thus replaces that scenario's figures and leaves the others from older captures, each
    labelled with its capture. Capture ids are UTC times, so they sort."""
    by_server: dict[tuple[str, str], list[Loaded]] = {}
    for loaded in files:
        document = loaded.document
        by_server.setdefault((document["machine"], document["server"]["id"]), []).append(loaded)
    shown = []
    for candidates in by_server.values():
        claimed: set[str] = set()
        for loaded in sorted(candidates, key=lambda one: one.document["capture"], reverse=True):
            scenarios = {record["scenario"] for record in loaded.document["results"]} - claimed
            if scenarios:
                shown.append((loaded, frozenset(scenarios)))
                claimed |= scenarios
    return shown


FigureKey = tuple[str, str, str, str]  # machine, server, scenario, figure


def _history(files: list[Loaded]) -> dict[FigureKey, list[tuple[str, str, dict[str, Any]]]]:
    """Every ok figure by (machine, server, scenario, figure): (capture, profile, record)."""
    history: dict[FigureKey, list[tuple[str, str, dict[str, Any]]]] = {}
    for loaded in files:
        document = loaded.document
        for record in document["results"]:
            if record["status"] != "ok":
                continue
            key = (document["machine"], document["server"]["id"], record["scenario"])
            entry = (document["capture"], document["profile"], record)
            history.setdefault((*key, record["figure"]), []).append(entry)
    return history


def _previous_figure(
    history: dict[FigureKey, list[tuple[str, str, dict[str, Any]]]],
    document: dict[str, Any],
    record: dict[str, Any],
) -> tuple[str, dict[str, Any]] | None:
    """The newest earlier capture's ok figure of the same key, profile and setup (a figure
    measured on another setup is not a "since" to show)."""
    key = (document["machine"], document["server"]["id"], record["scenario"], record["figure"])
    earlier = [
        (capture, other)
        for capture, profile, other in history.get(key, [])
        if capture < document["capture"]
        and profile == document["profile"]
        and not figure_setup_differences(other.get("params"), record.get("params"))
    ]
    return max(earlier, key=lambda pair: pair[0], default=None)


def shown_benchmarks(
    evidence: Evidence, server_pages: set[str], servers: dict[str, dict[str, Any]] | None = None
) -> Benchmarks:
    """The shown files per machine; ``servers`` (``definitions.presented_servers``) says what
    the pages call each server."""
    servers = presented_servers() if servers is None else servers
    shown_files = _shown(evidence.benchmarks)
    history = _history(evidence.benchmarks)
    calibrations = {
        (loaded.document["machine"], loaded.document["capture"]): loaded.document
        for loaded in evidence.benchmarks
        if loaded.document["server"]["id"] == CALIBRATION_ID
    }
    result = []
    for machine_id in sorted({loaded.document["machine"] for loaded, _ in shown_files}):
        shown = [pair for pair in shown_files if pair[0].document["machine"] == machine_id]
        ceilings = {
            capture: ceilings_of(calibrations[(machine_id, capture)])
            for capture in sorted({loaded.document["capture"] for loaded, _ in shown})
            if (machine_id, capture) in calibrations
        }
        files = [
            _file(loaded, ceilings, server_pages, servers, scenarios, history)
            for loaded, scenarios in shown
            if loaded.document["server"]["id"] not in (CALIBRATION_ID, INTERLEAVED_ID)
        ]
        interleaved = next(
            (pair for pair in shown if pair[0].document["server"]["id"] == INTERLEAVED_ID), None
        )
        files.sort(key=lambda file: (row_order(file.document), file.document["capture"]))
        calibration = next(
            (pair for pair in shown if pair[0].document["server"]["id"] == CALIBRATION_ID), None
        )
        result.append(
            MachineBenchmarks(
                machine=evidence.machines[machine_id],
                files=files,
                calibration=(
                    _file(calibration[0], ceilings, server_pages, servers, calibration[1], history)
                    if calibration
                    else None
                ),
                ceilings=ceilings,
                interleaved=(
                    _file(interleaved[0], ceilings, server_pages, servers, interleaved[1], history)
                    if interleaved
                    else None
                ),
                interleaved_by_capture=_interleaved_by_capture(
                    evidence, machine_id, calibrations, server_pages, servers, history
                ),
            )
        )
    return Benchmarks(result)


def _interleaved_by_capture(
    evidence: Evidence,
    machine_id: str,
    calibrations: dict[tuple[str, str], dict[str, Any]],
    server_pages: set[str],
    servers: dict[str, dict[str, Any]],
    history: dict[FigureKey, list[tuple[str, str, dict[str, Any]]]],
) -> dict[str, BenchmarkFile]:
    """Every interleaved file of one machine, by capture, whether or not its page shows it."""
    found = {}
    for loaded in evidence.benchmarks:
        document = loaded.document
        if document["machine"] != machine_id or document["server"]["id"] != INTERLEAVED_ID:
            continue
        capture = document["capture"]
        ceilings = (
            {capture: ceilings_of(calibrations[(machine_id, capture)])}
            if (machine_id, capture) in calibrations
            else {}
        )
        scenarios = frozenset(record["scenario"] for record in document["results"])
        found[capture] = _file(loaded, ceilings, server_pages, servers, scenarios, history)
    return found


def _file(
    loaded: Loaded,
    ceilings: dict[str, list[Ceiling]],
    server_pages: set[str],
    servers: dict[str, dict[str, Any]],
    scenarios: frozenset[str],
    history: dict[tuple, list[tuple[str, str, dict[str, Any]]]] | None = None,
) -> BenchmarkFile:
    document = loaded.document
    if document["server"]["id"] not in (CALIBRATION_ID, INTERLEAVED_ID):  # no definition
        document = {**document, "server": presented(document["server"], servers)}
    by_key = {(c.tool, c.protocol): c for c in ceilings.get(document["capture"], [])}
    server_id = document["server"]["id"]
    figures = []
    for record in document["results"]:
        if record["scenario"] not in scenarios:
            continue  # a newer capture of this server measured it
        key = tool_protocol(record)
        figures.append(
            Figure(
                record=record,
                server=(
                    interleaved_target(record, servers)
                    if server_id == INTERLEAVED_ID
                    else document["server"]
                ),
                machine=document["machine"],
                capture=document["capture"],
                profile=document["profile"],
                source=loaded.source,
                has_page=(
                    record["params"].get("target") if server_id == INTERLEAVED_ID else server_id
                )
                in server_pages,
                # A calibration figure is the ceiling; it is not warned about against itself.
                ceiling=None if server_id == CALIBRATION_ID else by_key.get(key),
                tool_protocol=key,
                previous=_previous_figure(history or {}, document, record),
            )
        )
    return BenchmarkFile(document, loaded.source, figures, server_id in server_pages)
