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

from evidence.setups import figure_setup_differences
from evidence.validation import Evidence, Loaded
from evidence.vocabulary import ANSWERS_COUNTED_ON_ARRIVAL, CALIBRATION_ID, INTERLEAVED_ID
from generators.benchmarks.figure import CEILING_PROTOCOL, Ceiling, Figure, is_achieved_rate
from generators.definitions import presented, presented_servers
from generators.model import row_order


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
