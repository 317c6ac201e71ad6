"""Benchmark figures as the pages show them, assembled from ``data/benchmarks/``.

The latest file per machine and server is shown, grouped per machine: figures measured on
different machines are never put in one table or chart. Each requests/s figure is compared
with the load tool's own ceiling, measured in the same capture's ``calibration.json``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from generators.charts import Bar, horizontal_bars
from generators.escaping import markdown_text, slug
from generators.model import row_order
from harness.benchmarks.measurement import CV_FLAG_PERCENT
from harness.benchmarks.settings import BENCHMARK_SETTINGS, SCENARIOS
from harness.store import SCHEMA_VERSION, DataDir, DataError, read_document
from harness.validate import CALIBRATION_ID

# Page title and the question each scenario page answers, in SCENARIOS order.
SCENARIO_PAGES = {
    "calibration": (
        "Load-tool calibration",
        "How fast can the load tools themselves go on this machine, and how much headroom do "
        "they leave above the fastest Django figure?",
    ),
    "h2load": (
        "Requests/s and latency",
        "How many requests per second does each server answer, over each protocol and at each "
        "number of concurrent clients, and how fast?",
    ),
    "fixed-rate-latency": (
        "Latency at a fixed rate",
        "At half of its own maximum rate, how long does each server take to answer?",
    ),
    "resources": (
        "Start-up and memory",
        "How long until the server answers, and how much memory does it use idle and under load?",
    ),
    "sync-middleware-cost": (
        "Cost of a sync-only middleware",
        "How much slower is an async view when one sync-only middleware is installed?",
    ),
    "idle-connections": (
        "Idle connections",
        "How many idle Server-Sent Events streams and WebSockets does one worker keep open, and "
        "how much memory does each cost?",
    ),
    "locust-polls": (
        "Users voting in the polls app",
        "How many simulated users voting in the polls app (SQLite) before requests fail?",
    ),
    "locust-upstream": (
        "Slow upstream calls",
        "Users on a page that calls a slow external API three times: latency and throughput.",
    ),
}
# h2load and calibration name protocols alike, except nginx in front of the server: its client
# side is HTTP/2 over TLS, which the load tool has to speak as fast as against h2+tls.
CEILING_PROTOCOL = {"nginx-h2+tls": "h2+tls"}
HEADROOM_SENTENCE_BELOW = 3.0
_STEP_METRIC = re.compile(r"^step(\d+)_(.+)$")
# Rates a load tool was asked for rather than measured (fixed-rate runs record their target).
_REQUESTED_RATES = ("target_", "maximum_")
_MIB, _KIB = 2**20, 2**10


def is_measured_rate(metric: str) -> bool:
    """A requests/s the load tool achieved (total, per step, with or without a variant)."""
    return metric.endswith("requests_per_s") and not metric.startswith(_REQUESTED_RATES)


@dataclass(frozen=True)
class Ceiling:
    """The fastest calibration figure of one load tool over one protocol in one capture."""

    tool: str
    protocol: str
    capture: str
    requests_per_s: float
    figure: str


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

    @property
    def ok(self) -> bool:
        return self.record["status"] == "ok"

    @property
    def params(self) -> dict[str, Any]:
        return self.record["params"]

    def metric(self, name: str) -> float | None:
        value = self.record["metrics"].get(name)
        return value if isinstance(value, int | float) else None

    def over_ceiling(self, name: str) -> bool:
        value = self.metric(name)
        return (
            is_measured_rate(name)
            and self.ceiling is not None
            and value is not None
            and value > self.ceiling.requests_per_s / 2
        )

    def best_rate(self) -> float | None:
        """The highest requests/s this figure reports (Locust reports a total and per step)."""
        rates = [
            value
            for name in self.record["metrics"]
            if is_measured_rate(name) and (value := self.metric(name)) is not None
        ]
        return max(rates) if rates else None

    def steps(self, suffix: str) -> dict[int, str]:
        """Locust's per-step metrics ending in ``suffix``: users -> metric name."""
        found = {}
        for name in self.record["metrics"]:
            match = _STEP_METRIC.match(name)
            if match and match.group(2) == suffix:
                found[int(match.group(1))] = name
        return found


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
    files: list[BenchmarkFile]  # latest per server, in matrix order; calibration not included
    calibration: BenchmarkFile | None  # the latest calibration on this machine
    ceilings: dict[str, list[Ceiling]]  # capture -> ceilings, for every capture shown

    @property
    def id(self) -> str:
        return self.machine["id"]

    def figures(self, scenario: str) -> list[Figure]:
        return [f for file in self.files for f in file.figures if f.record["scenario"] == scenario]

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
        return [
            file
            for machine in self.machines
            for file in ([machine.calibration] if machine.calibration else []) + machine.files
        ]

    def for_server(self, server_id: str) -> list[tuple[MachineBenchmarks, BenchmarkFile]]:
        return [
            (machine, file)
            for machine in self.machines
            for file in machine.files
            if file.server["id"] == server_id
        ]


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
            if is_measured_rate(name) and isinstance(value, int | float)
        ]
        if record["status"] != "ok" or key is None or not rates:
            continue
        if key not in best or max(rates) > best[key].requests_per_s:
            best[key] = Ceiling(key[0], key[1], document["capture"], max(rates), record["figure"])
    return sorted(best.values(), key=lambda ceiling: (ceiling.tool, ceiling.protocol))


def _latest_paths(data: DataDir) -> dict[tuple[str, str], Path]:
    """(machine, server) -> its newest file; capture ids are UTC times, so they sort."""
    latest: dict[tuple[str, str], Path] = {}
    for path in data.benchmark_paths():
        machine, capture, server = path.parts[-3], path.parts[-2], path.stem
        current = latest.get((machine, server))
        if current is None or capture > current.parts[-2]:
            latest[(machine, server)] = path
    return latest


def load_benchmarks(
    data_root: Path, machines: dict[str, dict[str, Any]], server_pages: set[str]
) -> Benchmarks:
    data = DataDir(data_root)
    latest = _latest_paths(data)
    documents: dict[Path, dict[str, Any]] = {}
    for path in latest.values():
        document = read_document(path, "benchmark")
        if document["machine"] not in machines:
            raise DataError(f"{path}: machine: {document['machine']!r} has no data/machines/ file")
        if document["server"]["id"] != path.stem:
            raise DataError(f"{path}: server/id: {document['server']['id']!r} must equal the file")
        documents[path] = document
    result = []
    for machine_id in sorted({machine for machine, _ in latest}):
        paths = [path for (machine, _), path in latest.items() if machine == machine_id]
        servers = [p for p in paths if p.stem != CALIBRATION_ID]
        captures = {p.parts[-2] for p in paths}
        ceilings = {}
        for capture in sorted(captures):
            path = data.benchmark_path(machine_id, capture, CALIBRATION_ID)
            if path.is_file():
                document = documents.get(path) or read_document(path, "benchmark")
                ceilings[capture] = ceilings_of(document)
        files = [
            _file(data_root, path, documents[path], ceilings, server_pages) for path in servers
        ]
        files.sort(key=lambda file: row_order(file.document))
        calibration = latest.get((machine_id, CALIBRATION_ID))
        result.append(
            MachineBenchmarks(
                machine=machines[machine_id],
                files=files,
                calibration=(
                    _file(data_root, calibration, documents[calibration], ceilings, server_pages)
                    if calibration
                    else None
                ),
                ceilings=ceilings,
            )
        )
    return Benchmarks(result)


def _file(
    data_root: Path,
    path: Path,
    document: dict[str, Any],
    ceilings: dict[str, list[Ceiling]],
    server_pages: set[str],
) -> BenchmarkFile:
    source = path.relative_to(data_root).as_posix()
    by_key = {(c.tool, c.protocol): c for c in ceilings.get(document["capture"], [])}
    server_id = document["server"]["id"]
    figures = []
    for record in document["results"]:
        key = tool_protocol(record)
        figures.append(
            Figure(
                record=record,
                server=document["server"],
                machine=document["machine"],
                capture=document["capture"],
                profile=document["profile"],
                source=source,
                has_page=server_id in server_pages,
                # A calibration figure is the ceiling; it is not warned about against itself.
                ceiling=None if server_id == CALIBRATION_ID else by_key.get(key),
                tool_protocol=key,
            )
        )
    return BenchmarkFile(document, source, figures, server_id in server_pages)


# ---- how numbers are shown -----------------------------------------------------------------


def unit_of(metric: str) -> str:
    """The unit a metric is shown in (its name ends in the unit it is stored in)."""
    if metric.endswith("_per_s"):
        return "req/s" if metric.endswith("requests_per_s") else "/s"
    if metric.endswith("_ratio"):
        return "×"
    if metric.endswith("per_connection_bytes"):
        return "KiB"
    for suffix, unit in (("_ms", "ms"), ("_percent", "%"), ("_bytes", "MiB"), ("_s", "s")):
        if metric.endswith(suffix):
            return unit
    return ""


def scaled(value: float, metric: str) -> float:
    """A stored value (bytes, ...) in the unit it is shown in."""
    unit = unit_of(metric)
    return value / _MIB if unit == "MiB" else value / _KIB if unit == "KiB" else value


def number(value: float, metric: str) -> str:
    """A value of ``metric`` in its display unit, with as many digits as mean something."""
    unit = unit_of(metric)
    value = scaled(value, metric)
    if unit in ("×", "%", "s"):
        return f"{value:.2f}"
    if unit == "" and float(value).is_integer():
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def spread_text(figure: Figure, metric: str) -> str:
    spread = figure.record["spread"].get(metric)
    if spread is None:
        return ""
    repeats = len(figure.record["repeats"])
    if spread["cv_percent"] is None:
        return "one repeat" if repeats == 1 else f"n={repeats}, no CV"
    low, high = number(spread["min"], metric), number(spread["max"], metric)
    return f"{low}–{high} · CV {spread['cv_percent']:.1f} % · n={repeats}"


def cv_flagged(figure: Figure, metric: str) -> bool:
    cv = (figure.record["spread"].get(metric) or {}).get("cv_percent")
    return cv is not None and cv > CV_FLAG_PERCENT


def value_cell(figure: Figure, metric: str) -> Markup:
    """A metric's median with its spread and warnings, or why there is no number."""
    if not figure.ok:
        return Markup("failed")
    value = figure.metric(metric)
    if value is None:
        if metric in figure.record["metrics"]:
            return Markup("n/a (not in every repeat)")
        return Markup("n/a")
    cell = escape(number(value, metric))
    spread = spread_text(figure, metric)
    if spread:
        cell += Markup("<br><small>{}</small>").format(spread)
    if cv_flagged(figure, metric):
        cv = figure.record["spread"][metric]["cv_percent"]
        cell += Markup(' <span class="sd-flag">⚠ CV {} % &gt; {} %</span>').format(
            f"{cv:.1f}", f"{CV_FLAG_PERCENT:.0f}"
        )
    if figure.over_ceiling(metric) and figure.ceiling is not None:
        # Only numbers go into this HTML: Markdown runs inside raw HTML tags' attributes too.
        cell += Markup(
            ' <span class="sd-ceiling">⚠ above half the load tool\'s ceiling ({} req/s)</span>'
        ).format(number(figure.ceiling.requests_per_s, "requests_per_s"))
    return cell


def failure_cell(figure: Figure, limit: int = 400) -> Markup:
    reason = str(figure.record["failure"] or "no reason recorded")
    if len(reason) > limit:
        reason = reason[: limit - 1] + "… (the full text is in data/benchmarks.json)"
    return Markup("**failed**: ") + markdown_text(reason)


def param_cell(figure: Figure, name: str) -> Markup:
    value = figure.params.get(name)
    if value is None:
        return Markup("")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return escape(number(value, name))
    return markdown_text(value)


def cells(figure: Figure, columns: list[tuple[str, str]]) -> list[Markup]:
    """One table row's cells for ``columns`` of (label, key); key ``params.X`` shows a parameter,
    ``figure`` the figure's name. On a failed figure the first metric cell says why and the
    others say failed."""
    shown, reason_given = [], False
    for _, key in columns:
        if key == "figure":
            shown.append(markdown_text(figure.record["figure"]))
        elif key.startswith("params."):
            shown.append(param_cell(figure, key.removeprefix("params.")))
        elif not figure.ok and not reason_given:
            shown.append(failure_cell(figure))
            reason_given = True
        else:
            shown.append(value_cell(figure, key))
    return shown


def present(figures: list[Figure], columns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The columns some figure has a value for: a metric some ok figure reports, a parameter
    some figure has. With no ok figure, one column per label, so that failed rows still have
    cells to say so."""
    if not any(figure.ok for figure in figures):
        first_of_label: dict[str, str] = {}
        for label, key in columns:
            first_of_label.setdefault(label, key)
        return list(first_of_label.items())
    return [(label, key) for label, key in columns if _reported(figures, key)]


def _reported(figures: list[Figure], key: str) -> bool:
    if key == "figure":
        return True
    if key.startswith("params."):
        return any(key.removeprefix("params.") in figure.params for figure in figures)
    return any(key in figure.record["metrics"] for figure in figures if figure.ok)


def group_by_param(figures: list[Figure], name: str) -> dict[str, list[Figure]]:
    """Figures grouped by a parameter's value, in first-seen order ('' when it is missing)."""
    groups: dict[str, list[Figure]] = {}
    for figure in figures:
        groups.setdefault(str(figure.params.get(name, "")), []).append(figure)
    return groups


def step_users(figures: list[Figure], suffix: str) -> list[int]:
    return sorted({users for figure in figures for users in figure.steps(suffix)})


def step_cell(figure: Figure, users: int, suffix: str) -> Markup:
    if not figure.ok:
        return Markup("failed")
    name = figure.steps(suffix).get(users)
    return value_cell(figure, name) if name else Markup("not run")


def server_link(figure: Figure | BenchmarkFile, prefix: str = "../servers/") -> Markup:
    server = figure.server
    name = markdown_text(server["name"])
    if not figure.has_page:
        return name
    return Markup("[{}]({}{}.md)").format(name, prefix, slug(server["id"]))


def server_label(figure: Figure) -> Markup:
    """The server's link, and the variant (other thread count...) when the figure is one."""
    variant = figure.params.get("variant")
    if not variant:
        return server_link(figure)
    return Markup("{} ({})").format(server_link(figure), markdown_text(str(variant)))


def export(benchmarks: Benchmarks, machines: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The public ``data/benchmarks.json``: every shown figure with its repeats and source."""
    return {
        "schema_version": SCHEMA_VERSION,
        "machines": [machines[machine.id] for machine in benchmarks.machines],
        "results": [
            {
                "server": file.server["id"],
                "scenario": figure.record["scenario"],
                "figure": figure.record["figure"],
                "machine": file.document["machine"],
                "capture": file.document["capture"],
                "profile": file.document["profile"],
                "measured_at": figure.record["measured_at"],
                "params": figure.record["params"],
                "status": figure.record["status"],
                "failure": figure.record["failure"],
                "metrics": figure.record["metrics"],
                "spread": figure.record["spread"],
                "flags": figure.record["flags"],
                "repeats": figure.record["repeats"],
                "source": file.source,
            }
            for file in benchmarks.files()
            for figure in file.figures
        ],
    }


def scenario_pages() -> dict[str, tuple[str, str]]:
    """(title, question) of every scenario page, in the harness's scenario order."""
    if set(SCENARIO_PAGES) != set(SCENARIOS):
        raise RuntimeError("SCENARIO_PAGES must name every scenario of harness.benchmarks")
    return {scenario: SCENARIO_PAGES[scenario] for scenario in SCENARIOS}


# ---- the methodology page ------------------------------------------------------------------

_SETTING_LABELS = {
    "repeats": "Repeats of every figure, at least",
    "max_repeats": "Repeats at most (extra rounds only while CV > 10 %)",
    "warmup_s": "Warm-up before each h2load run (not counted)",
    "duration_s": "Duration of each h2load run",
    "clients": "h2load concurrent clients over plain HTTP/1.1",
    "other_protocol_clients": "h2load concurrent clients over the other protocols",
    "other_protocol_endpoints": "Views measured over the other protocols",
    "fixed_rate_fraction": "Fixed rate, as a fraction of the server's maximum",
    "fixed_rate_duration_s": "Duration of a fixed-rate run",
    "idle_bound": "Idle connections attempted",
    "idle_open_deadline_s": "Deadline to open them",
    "idle_hold_s": "Time they are held before counting",
    "polls_steps": "Locust steps, polls (users × seconds)",
    "upstream_steps": "Locust steps, slow upstream (users × seconds)",
    "locust_timeout_s": "Locust request timeout (slower counts as failed)",
    "calibration_duration_s": "Duration of each calibration run",
}


def _setting_text(name: str, value: Any) -> str:
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return ", ".join(f"{users} × {seconds:g} s" for users, seconds in value)
    if isinstance(value, tuple):
        return ", ".join(str(item) for item in value)
    if name.endswith("_s"):
        return f"{value:g} s"
    return f"{value:g}" if isinstance(value, float) else str(value)


def settings_rows() -> list[tuple[str, list[str]]]:
    """Every benchmark setting, one row each, one column per profile (BENCHMARK_SETTINGS)."""
    profiles = list(BENCHMARK_SETTINGS.values())
    return [
        (
            _SETTING_LABELS.get(setting.name, setting.name),
            [_setting_text(setting.name, getattr(p, setting.name)) for p in profiles],
        )
        for setting in dataclasses.fields(profiles[0])
    ]


def pinning_by_machine(benchmarks: Benchmarks) -> list[dict[str, Any]]:
    """Per machine, the CPUs server and load tools were pinned to, and the worker rules and
    tool versions, as the shown files record them."""
    rows = []
    for machine in benchmarks.machines:
        files = ([machine.calibration] if machine.calibration else []) + machine.files
        provenance = [file.document["provenance"] for file in files]
        rows.append(
            {
                "machine": machine.id,
                "pinning": sorted(
                    {(p["pinning"]["server_cpus"], p["pinning"]["load_cpus"]) for p in provenance}
                ),
                "worker_rules": sorted({p["worker_rule"] for p in provenance}),
                "tools": sorted(
                    {
                        (tool, version or "not installed")
                        for p in provenance
                        for tool, version in p["tools"].items()
                    }
                ),
            }
        )
    return rows


# ---- charts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chart:
    title: str  # from data in part: escaped wherever it is shown
    svg: str


@dataclass(frozen=True)
class Series:
    """One bar per group: ``metric`` of the group's figure whose params include ``match``."""

    label: str
    metric: str
    match: tuple[tuple[str, Any], ...] = ()


def figures_chart(
    title: str,
    description: str,
    figures: list[Figure],
    series: list[Series],
    axis: str,
    reference: tuple[float, str] | None = None,
    by: str = "server",
) -> Chart:
    """Grouped bars, one group per server (or per figure), in table order; a failed figure
    shows "failed" where its bar would be."""
    groups: dict[tuple[str, str], list[Figure]] = {}
    for figure in figures:
        # A server's variants (other thread counts...) are bars of their own.
        variant = str(figure.params.get("variant", ""))
        key = (figure.server["id"], variant) if by == "server" else (figure.record["figure"], "")
        groups.setdefault(key, []).append(figure)
    bars = []
    for group in groups.values():
        values: list[float | None] = []
        notes: list[str] = []
        for one in series:
            found = next(
                (f for f in group if all(f.params.get(k) == v for k, v in one.match)), None
            )
            value = found.metric(one.metric) if found and found.ok else None
            values.append(None if value is None else scaled(value, one.metric))
            notes.append("not measured" if found is None else "failed" if not found.ok else "n/a")
        label = group[0].server["name"] if by == "server" else group[0].record["figure"]
        if variant := group[0].params.get("variant"):
            label = f"{label}, {variant}"
        bars.append(Bar(label, tuple(values), tuple(notes)))
    units = {unit_of(one.metric) for one in series}
    big = any(v is not None and v >= 100 for bar in bars for v in bar.values)
    svg = horizontal_bars(
        title,
        description,
        bars,
        tuple(one.label for one in series),
        axis,
        reference=reference,
        value_format=",.0f" if big and not units & {"%", "×"} else ".2f",
    )
    return Chart(title, svg)


def by_param_chart(
    title: str, description: str, figures: list[Figure], metric: str, param: str, axis: str
) -> Chart:
    """One bar per value of a parameter (clients, kind), per server."""
    values = sorted(
        {f.params[param] for f in figures if param in f.params},
        key=lambda value: (isinstance(value, str), value),
    )
    series = [
        Series(
            f"{value} {param}" if isinstance(value, int) else str(value), metric, ((param, value),)
        )
        for value in values
    ]
    return figures_chart(title, description, figures, series, axis)


def metrics_chart(
    title: str,
    description: str,
    figures: list[Figure],
    metrics: list[tuple[str, str]],
    axis: str,
    reference: tuple[float, str] | None = None,
) -> Chart:
    """One bar per metric (p50, p95, p99 ...) that some figure reports, per server."""
    series = [Series(label, metric) for label, metric in present(figures, metrics)]
    return figures_chart(title, description, figures, series, axis, reference)


def steps_chart(
    title: str, description: str, figures: list[Figure], suffix: str, axis: str
) -> Chart:
    """One bar per Locust step (users), per server."""
    series = []
    for users in step_users(figures, suffix):
        names = {f.steps(suffix).get(users) for f in figures} - {None}
        series.append(Series(f"{users} users", sorted(names)[0]))
    return figures_chart(title, description, figures, series, axis)


def calibration_chart(title: str, description: str, figures: list[Figure]) -> Chart:
    series = [Series("requests/s", "requests_per_s")]
    return figures_chart(title, description, figures, series, "requests/s", by="figure")


def most_clients(figures: list[Figure]) -> list[Figure]:
    """Each server's figure with the most concurrent clients."""
    best: dict[str, Figure] = {}
    for figure in figures:
        clients = figure.params.get("clients")
        current = best.get(figure.server["id"])
        if isinstance(clients, int) and (
            current is None or clients > current.params.get("clients", 0)
        ):
            best[figure.server["id"]] = figure
    return list(best.values())


def first_metric(figures: list[Figure], *names: str) -> str:
    """The first of ``names`` that some figure reports (metric names of one tool may change)."""
    for name in names:
        if any(name in figure.record["metrics"] for figure in figures):
            return name
    return names[0]


# What a server page shows of each figure: (label, metric), those the figure has.
HEADLINES = {
    "calibration": [("requests/s", "requests_per_s")],
    "h2load": [
        ("requests/s", "requests_per_s"),
        ("p50 ms", "latency_p50_ms"),
        ("p99 ms", "latency_p99_ms"),
        ("failed %", "failed_percent"),
        ("non-2xx %", "non2xx_percent"),
    ],
    "fixed-rate-latency": [
        ("requests/s", "requests_per_s"),
        ("p50 ms", "latency_p50_ms"),
        ("p99 ms", "latency_p99_ms"),
    ],
    "resources": [
        ("ready s", "ready_s"),
        ("idle PSS MiB", "idle_memory_pss_bytes"),
        ("peak PSS MiB", "peak_memory_pss_bytes"),
    ],
    "sync-middleware-cost": [
        ("p50 with/without", "latency_p50_ratio"),
        ("p99 with/without", "latency_p99_ratio"),
        ("requests/s with/without", "requests_per_ratio"),
        ("requests/s with/without", "requests_per_s_ratio"),
    ],
    "idle-connections": [
        ("still open", "connections_still_open"),
        ("still open", "still_open"),
        ("KiB per connection", "memory_per_connection_bytes"),
    ],
    "locust-polls": [
        ("highest users with no failure", "highest_ok_users"),
        ("best step requests/s", "max_step_requests_per_s"),
        ("p95 ms", "latency_p95_ms"),
        ("failures %", "failures_percent"),
    ],
    "locust-upstream": [
        ("best step requests/s", "max_step_requests_per_s"),
        ("p95 ms", "latency_p95_ms"),
        ("average ms", "latency_avg_ms"),
        ("failures %", "failures_percent"),
    ],
}


def headline(figure: Figure) -> Markup:
    """A figure's main metrics in one table cell, or "failed" and why."""
    if not figure.ok:
        return failure_cell(figure)
    parts = [
        Markup("{}: {}").format(label, value_cell(figure, metric))
        for label, metric in HEADLINES[figure.record["scenario"]]
        if metric in figure.record["metrics"]
    ]
    return Markup("<br>").join(parts) if parts else Markup("no metric recorded")
