"""CSV downloads of the matrix and of the benchmark figures, for spreadsheets and scripts.

Data text is untrusted: a cell that a spreadsheet would run as a formula (starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with ``'``, so it shows as text.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from evidence.metrics import lookup
from generators.benchmarks.figure import DRAIN_INCLUDED
from generators.benchmarks.figures import Benchmarks, Figure
from generators.model import Site

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_cell(value) for value in row] for row in rows])
    return out.getvalue()


def matrix_csv(site: Site) -> str:
    """One row per configuration and check: the outcome, whose behaviour decided it (empty in
    older files), its summary, where it was measured."""
    header = ["server", "name", "interface", "mode", "version", "check", "title", "outcome"]
    header += ["cause", "summary", "machine", "capture", "profile", "evidence_page"]
    rows = [
        [
            run["server"]["id"],
            run["server"]["name"],
            run["server"]["interface"],
            run["server"]["mode"],
            run["server"]["version"],
            result["id"],
            result["title"],
            result["outcome"],
            result["cause"] or "",
            result["summary"],
            run["machine"],
            (result.get("carried_from") or run)["capture"],
            run["profile"],
            f"servers/{run['server']['id']}/#{result['id']}",
        ]
        for run in site.runs
        for result in run["checks"]
    ]
    return _csv(header, rows)


# The columns of data/benchmarks.csv: one row per figure and metric, tidy (one value a cell).
BENCHMARK_COLUMNS = [
    "machine",
    "capture",
    "profile",
    "server",
    "variant",
    "scenario",
    "figure",
    "tool",
    "protocol",
    "endpoint",
    "clients",
    "metric",
    "label",
    "unit",
    "value",
    "min",
    "max",
    "cv_percent",
    "repeats",
    "status",
    "failed_by",
    "failure",
    "note",
    "source",
]


def _param(params: dict[str, Any], *keys: str) -> Any:
    """The first of ``keys`` a figure's parameters record, or "" (not every scenario has a
    protocol, endpoint or client count: the cell stays empty, never "None")."""
    for key in keys:
        value = params.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return value
    return ""


def _notes(figure: Figure, name: str) -> str:
    """What the pages say beside metric ``name`` of ``figure`` instead of, or about, its
    number: a rate that counts failed requests, a drained queue, a latency its run could not
    observe or never received, a coarse rate."""
    notes = []
    if figure.counts_failures(name):
        notes.append("answered and failed together: not a throughput")
    if figure.drain_included(name):
        notes.append(DRAIN_INCLUDED)
    notes += [
        reason
        for reason in (figure.unobservable(name), figure.unanswered(name), figure.coarse_rate(name))
        if reason
    ]
    return "; ".join(notes)


def _figure_rows(figure: Figure) -> list[list[Any]]:
    params, record = figure.params, figure.record
    # How many clients loaded the server: h2load's clients, Locust's users, or the connections
    # of openload's fixed-rate runs (a number there; Locust's "connections" names a database
    # pool setup, not a load).
    clients = _param(params, "clients", "users")
    if clients == "" and isinstance(params.get("connections"), int):
        clients = params["connections"]
    repeats = len(record["repeats"])
    failed = "" if figure.ok else (record.get("failed_by") or "server")  # absent: the server's

    def row(name: str, value: Any, spread: dict[str, Any], note: str) -> list[Any]:
        meaning = lookup(name) if name else None
        step_users = meaning.step_users if meaning else None
        return [
            figure.machine,
            figure.capture,
            figure.profile,
            figure.server["id"],
            _param(params, "variant"),
            record["scenario"],
            record["figure"],
            _param(params, "tool"),
            _param(params, "protocol"),
            _param(params, "endpoint"),
            clients if step_users is None else step_users,  # a Locust step: its users
            name,
            meaning.label if meaning else "",
            meaning.metric.unit.stored if meaning else "",
            "" if value is None else value,
            "" if spread.get("min") is None else spread["min"],
            "" if spread.get("max") is None else spread["max"],
            "" if spread.get("cv_percent") is None else spread["cv_percent"],
            repeats,
            record["status"],
            failed,
            record["failure"] or "",
            note,
            figure.source,
        ]

    if not figure.ok:  # one row, with its reason and no number (never a zero)
        return [row("", None, {}, "")]
    return [
        row(name, value, record["spread"].get(name) or {}, _notes(figure, name))
        for name, value in sorted(record["metrics"].items())
    ]


def benchmarks_csv(benchmarks: Benchmarks) -> str:
    """One row per shown figure and metric: where and how it was measured (tool, protocol,
    endpoint, clients, each its own column, empty where the scenario has none), the metric,
    its unit, its value (the median of the repeats), min, max, CV and repeats, and what the
    pages say beside it; a failed figure is one row with its reason and an empty value."""
    return _csv(
        BENCHMARK_COLUMNS,
        [
            row
            for file in benchmarks.files()
            for figure in file.figures
            for row in _figure_rows(figure)
        ],
    )
