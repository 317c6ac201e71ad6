"""CSV downloads of the matrix and of the benchmark figures, for spreadsheets and scripts.

Data text is untrusted: a cell that a spreadsheet would run as a formula (starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with ``'``, so it shows as text.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from evidence.metrics import lookup
from generators.benchmarks.figures import DRAIN_INCLUDED, Benchmarks
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


def benchmarks_csv(benchmarks: Benchmarks) -> str:
    """One row per shown figure and metric (median, min, max, CV, repeats, unit); a failed
    figure is one row with its reason and no number."""
    header = ["server", "variant", "machine", "capture", "profile", "scenario", "figure"]
    header += ["status", "failure", "metric", "label", "stored_unit", "median", "min", "max"]
    header += ["cv_percent", "repeats", "source"]
    rows = []
    for file in benchmarks.files():
        for figure in file.figures:
            first = [
                file.server["id"],
                figure.params.get("variant", ""),
                figure.machine,
                figure.capture,
                figure.profile,
                figure.record["scenario"],
                figure.record["figure"],
                figure.record["status"],
                figure.record["failure"] or "",
            ]
            repeats = len(figure.record["repeats"])
            if not figure.ok:
                rows.append([*first, "", "", "", "", "", "", "", repeats, file.source])
                continue
            for name, value in sorted(figure.record["metrics"].items()):
                meaning = lookup(name)
                label = meaning.label if meaning else ""
                if figure.counts_failures(name):
                    label += " (answered and failed together: not a throughput)"
                if figure.drain_included(name):
                    label += f" ({DRAIN_INCLUDED})"
                spread = figure.record["spread"].get(name) or {}
                rows.append(
                    [
                        *first,
                        name,
                        label,
                        meaning.metric.unit.stored if meaning else "",
                        "" if value is None else value,
                        spread.get("min", ""),
                        spread.get("max", ""),
                        "" if spread.get("cv_percent") is None else spread["cv_percent"],
                        repeats,
                        file.source,
                    ]
                )
    return _csv(header, rows)
