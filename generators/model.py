"""The data the pages show, assembled from ``data/``: latest run per server, checks, results."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.store import DataDir, DataError, read_document

# Icon (a Material icon shortcode, rendered as inline SVG: no emoji font needed) and label; the
# label is always shown next to the icon so outcomes never rely on colour or shape alone.
OUTCOME_LABELS = {
    "yes": (":material-check-circle:{ .sd-yes }", "yes"),
    "no": (":material-close-circle:{ .sd-no }", "no"),
    "partial": (":material-circle-half-full:{ .sd-partial }", "partial"),
    "not-applicable": (":material-minus-circle-outline:{ .sd-na }", "n/a"),
    "error": (":material-alert:{ .sd-error }", "error"),
}
# How the matrix orders rows: what people start with, then WSGI, then ASGI.
_MODE_ORDER = {"development": 0, "production": 1}
_INTERFACE_ORDER = {"wsgi": 0, "asgi": 1}


@dataclass(frozen=True)
class Site:
    runs: list[dict[str, Any]]  # the newest run of each server, in matrix order
    all_runs: list[dict[str, Any]]  # every run, for the changes page
    checks: list[dict[str, Any]]  # id, title, group, question, thresholds, timed
    machines: dict[str, dict[str, Any]]
    sources: dict[str, str]  # server id -> data file the run came from (relative to data/)

    def result(self, run: dict[str, Any], check_id: str) -> dict[str, Any] | None:
        return next((item for item in run["checks"] if item["id"] == check_id), None)


def row_order(document: dict[str, Any]) -> tuple:
    """Matrix order of a run or benchmark file: by mode, then interface, then id."""
    server = document["server"]
    return (
        _MODE_ORDER.get(server["mode"], len(_MODE_ORDER)),
        _INTERFACE_ORDER.get(server["interface"], len(_INTERFACE_ORDER)),
        server["id"],
    )


def load_site(data_root: Path) -> Site:
    data = DataDir(data_root)
    machines = data.load_machines()
    newest: dict[str, tuple[dict[str, Any], Path]] = {}
    all_runs = []
    for path in data.run_paths():
        run = read_document(path, "run")
        all_runs.append(run)
        server_id = run["server"]["id"]
        if run["machine"] not in machines:
            raise DataError(f"{path}: machine: {run['machine']!r} has no data/machines/ file")
        if server_id != path.stem:
            raise DataError(f"{path}: server/id: {server_id!r} must equal the file name")
        current = newest.get(server_id)
        if current is None or (run["capture"], run["finished_at"]) > (
            current[0]["capture"],
            current[0]["finished_at"],
        ):
            newest[server_id] = (run, path)
    runs = sorted((run for run, _ in newest.values()), key=row_order)
    checks: dict[str, dict[str, Any]] = {}
    for run in runs:
        for result in run["checks"]:
            checks.setdefault(
                result["id"],
                {
                    "id": result["id"],
                    "title": result["title"],
                    "group": result["group"],
                    "question": str(result["evidence"].get("question", "")),
                    "thresholds": str(result["evidence"].get("thresholds", "")),
                    "timed": result["evidence"].get("timed") is True,
                },
            )
    sources = {
        server_id: path.relative_to(data_root).as_posix() for server_id, (_, path) in newest.items()
    }
    return Site(
        runs=runs,
        all_runs=all_runs,
        checks=list(checks.values()),
        machines=machines,
        sources=sources,
    )
