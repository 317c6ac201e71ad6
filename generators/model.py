"""The data the check pages show, assembled from the evidence read once: the latest run per
server, the checks, and every run for the changes page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evidence.validation import Evidence
from generators.definitions import presented, presented_servers

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


def site_from(evidence: Evidence, servers: dict[str, dict[str, Any]] | None = None) -> Site:
    """The site's runs; what they say about each server comes from its definition."""
    servers = presented_servers() if servers is None else servers
    newest = {
        server_id: (
            {**loaded.document, "server": presented(loaded.document["server"], servers)},
            loaded.source,
        )
        for server_id, loaded in evidence.newest_runs().items()
    }
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
                    "question": result["question"],
                    "thresholds": result["thresholds"],
                    "timed": result["timed"],
                },
            )
    return Site(
        runs=runs,
        all_runs=[loaded.document for loaded in evidence.runs],
        checks=list(checks.values()),
        machines=evidence.machines,
        sources={server_id: source for server_id, (_, source) in newest.items()},
    )
