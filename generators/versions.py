"""The version axis's pages: per configuration, each check's outcome per server release, the
release where an outcome changed (with the release notes that explain it, where the
declaration names them), and what differs between Django and Python versions.

Version runs are run documents with an ``axis`` block (server release, Django, Python, and
whether the combination is the current matrix's); they are never part of the current matrix.
A configuration's release axis holds its runs with the Django and Python of its current
combination; its Django axis the current release with the current Python, and its Python
axis the current release with the current Django, so each axis changes one thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from generators.escaping import navigation_title
from generators.model import presented_result, row_order


def release_key(release: str) -> tuple[int, ...]:
    """Releases in numeric order ("0.9.2" before "0.10.0")."""
    return tuple(int(part) for part in re.findall(r"\d+", release))


def _minor(python: str) -> str:
    return ".".join(python.split(".")[:2])


@dataclass(frozen=True)
class Transition:
    release: str  # the first release with the new outcome
    before: str
    after: str
    notes: str | None  # its release notes, where declared


@dataclass(frozen=True)
class CheckHistory:
    check: dict[str, Any]  # the catalog's check (id, title, group)
    outcomes: dict[str, str | None]  # release -> shown outcome (None: not measured)
    transitions: list[Transition]


@dataclass(frozen=True)
class AxisRow:
    """One check of one configuration measured along Django or Python versions."""

    check: dict[str, Any]
    outcomes: dict[str, str | None]  # version -> outcome

    @property
    def differs(self) -> bool:
        return len({o for o in self.outcomes.values() if o is not None}) > 1


@dataclass(frozen=True)
class ConfigurationHistory:
    server: dict[str, Any]  # as presented (name from the definition)
    releases: list[str]  # oldest first
    django: str  # of the release axis
    python: str
    checks: list[CheckHistory]
    django_axis: list[str] = field(default_factory=list)
    django_rows: list[AxisRow] = field(default_factory=list)
    python_axis: list[str] = field(default_factory=list)
    python_rows: list[AxisRow] = field(default_factory=list)

    def changed(self) -> list[CheckHistory]:
        return [history for history in self.checks if history.transitions]


def _outcomes(run: dict[str, Any], known: dict[str, dict[str, Any]], server: dict) -> dict:
    return {
        result["id"]: presented_result(result, known, server)["outcome"] for result in run["checks"]
    }


def _axis_rows(
    runs: dict[str, dict[str, Any]], catalog: list[dict[str, Any]], known: dict, server: dict
) -> tuple[list[str], list[AxisRow]]:
    versions = sorted(runs, key=release_key)
    outcomes = {version: _outcomes(runs[version], known, server) for version in versions}
    rows = [
        AxisRow(check, {version: outcomes[version].get(check["id"]) for version in versions})
        for check in catalog
        if any(check["id"] in found for found in outcomes.values())
    ]
    return versions, rows


def configuration_history(
    runs: list[dict[str, Any]],
    catalog: list[dict[str, Any]],
    server: dict[str, Any],
    notes: dict[str, str],
) -> ConfigurationHistory | None:
    """One configuration's axes from its version runs (newest run per combination); None
    without the current combination (the axes are defined around it)."""
    current = next((run for run in runs if run["axis"]["current"]), None)
    if current is None:
        return None
    known = {check["id"]: check for check in catalog}
    axis = current["axis"]
    django, python = axis["django"], _minor(axis["python"])
    release = axis["server_release"]
    by_release = {
        run["axis"]["server_release"]: run
        for run in runs
        if run["axis"]["django"] == django and _minor(run["axis"]["python"]) == python
    }
    releases = sorted(by_release, key=release_key)
    outcomes = {r: _outcomes(by_release[r], known, server) for r in releases}
    histories = []
    for check in catalog:
        row = {r: outcomes[r].get(check["id"]) for r in releases}
        if all(outcome is None for outcome in row.values()):
            continue
        transitions, previous = [], None
        for r in releases:
            outcome = row[r]
            if outcome is not None and previous is not None and outcome != previous:
                transitions.append(Transition(r, previous, outcome, notes.get(r)))
            previous = outcome if outcome is not None else previous
        histories.append(CheckHistory(check, row, transitions))
    django_runs = {
        run["axis"]["django"]: run
        for run in runs
        if run["axis"]["server_release"] == release and _minor(run["axis"]["python"]) == python
    }
    python_runs = {
        _minor(run["axis"]["python"]): run
        for run in runs
        if run["axis"]["server_release"] == release and run["axis"]["django"] == django
    }
    django_axis, django_rows = _axis_rows(django_runs, catalog, known, server)
    python_axis, python_rows = _axis_rows(python_runs, catalog, known, server)
    return ConfigurationHistory(
        server, releases, django, python, histories,
        django_axis, django_rows, python_axis, python_rows,
    )  # fmt: skip


def version_histories(
    runs: list[dict[str, Any]],
    catalog: list[dict[str, Any]],
    servers: dict[str, dict[str, Any]],
    notes: dict[str, dict[str, str]],
) -> list[ConfigurationHistory]:
    """Every configuration with version runs, in matrix order. Of several runs of one
    combination (two captures), the newest by start time counts."""
    newest: dict[tuple, dict[str, Any]] = {}
    for run in sorted(runs, key=lambda run: run["started_at"]):
        axis = run["axis"]
        key = (run["server"]["id"], axis["server_release"], axis["django"], _minor(axis["python"]))
        newest[key] = run
    by_server: dict[str, list[dict[str, Any]]] = {}
    for (server_id, *_), run in newest.items():
        by_server.setdefault(server_id, []).append(run)
    histories = []
    for server_id, server_runs in sorted(by_server.items(), key=lambda item: row_order(item[1][0])):
        server = {**server_runs[0]["server"], **servers.get(server_id, {})}
        history = configuration_history(server_runs, catalog, server, notes.get(server_id, {}))
        if history is not None:
            histories.append(history)
    return histories


def version_navigation(versioned: list[tuple[str, str]]) -> list[dict[str, str]]:
    """The Versions section of the navigation: the overview, then each configuration's page.
    Names are data: MkDocs prints navigation titles unescaped (escaping.navigation_title)."""
    return [
        {"Overview": "versions/index.md"},
        *({navigation_title(name): f"versions/{server_id}.md"} for server_id, name in versioned),
    ]
