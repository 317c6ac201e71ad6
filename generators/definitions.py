"""What the site says about a server (name, summary, links, notes) comes from its reviewed
definition in the repository, ``harness/servers/<id>.toml``, and what it says about a check
(title, group, question, thresholds) from the check catalog, ``harness/checks/catalog.json``;
never from a data file: data files contribute measurements only, so a contributed file cannot
rename a server, retitle a column or point a link elsewhere. Both are read as files; no harness
code is imported (the harness validates them and keeps the catalog up to date, and ``nox -s
validate`` notes data files that disagree)."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from evidence.layout import REPO_ROOT

# SERVING_DJANGO_SERVERS names another directory of definitions, as for the harness (a
# contributor's draft, a test's).
DEFINITIONS_DIR = Path(
    os.environ.get("SERVING_DJANGO_SERVERS") or REPO_ROOT / "harness" / "servers"
)
CHECK_CATALOG = REPO_ROOT / "harness" / "checks" / "catalog.json"
VERSIONS_FILE = REPO_ROOT / "harness" / "versions.toml"
CHECK_TEXT = {"title": str, "group": str, "question": str, "thresholds": str, "timed": bool}
# A corpus check's inputs; risk (desync or lenient) and its reason say what a proxy in front
# could be made to do when a server reads the input otherwise than the RFC.
CASE_TEXT = ("id", "title", "spec", "rule", "expected", "risk", "risk_reason")
PRESENTED = {"name": str, "summary": str, "homepage": str, "docs": str, "notes": list}


def defined_server_ids(directory: Path = DEFINITIONS_DIR) -> frozenset[str]:
    """The server ids the repository defines: one definition file each, named by its id (the
    harness refuses a file whose id differs from its name)."""
    return frozenset(path.stem for path in directory.glob("*.toml"))


def presented_servers(directory: Path = DEFINITIONS_DIR) -> dict[str, dict[str, Any]]:
    """Server id -> the fields the site presents, from each readable definition."""
    servers = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue  # nox -s validate names the broken file
        servers[path.stem] = {
            key: raw[key] for key, kind in PRESENTED.items() if isinstance(raw.get(key), kind)
        }
        servers[path.stem]["option_text"] = _option_text(raw.get("options"))
    return servers


def release_notes(path: Path = VERSIONS_FILE) -> dict[str, dict[str, str]]:
    """Configuration id -> release -> where its release notes are (``[<id>.notes]`` of
    harness/versions.toml, which ``nox -s validate`` checks; an unreadable file gives none)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    return {
        server_id: {
            str(release): url for release, url in table["notes"].items() if isinstance(url, str)
        }
        for server_id, table in raw.items()
        if isinstance(table, dict) and isinstance(table.get("notes"), dict)
    }


def _option_text(options: Any) -> dict[str, dict[str, str]]:
    """Each documented option's label and docs link, as the reviewed definition words them."""
    if not isinstance(options, dict):
        return {}
    return {
        name: {"label": option["label"], "docs": option["docs"]}
        for name, option in options.items()
        if isinstance(option, dict)
        and isinstance(option.get("label"), str)
        and isinstance(option.get("docs"), str)
    }


def presented(server: dict[str, Any], servers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A data file's server block with what the site shows about it taken from its definition.
    The site build refuses data of a server without one (``generators.reading``); the calibration
    and the reference apps keep their data file's text (escaped like all data)."""
    definition = servers.get(server["id"], {})
    shown = {**server, **{key: value for key, value in definition.items() if key in server}}
    shown["option_text"] = definition.get("option_text", {})
    return shown


class CatalogError(Exception):
    """The check catalog cannot be read; the message names the file and the field."""


def _cases(path: Path, index: int, item: dict[str, Any]) -> list[dict[str, str]]:
    cases = item.get("cases", [])
    if not isinstance(cases, list):
        raise CatalogError(f"{path}: checks/{index}/cases: not a list")
    for number, case in enumerate(cases):
        for key in CASE_TEXT:
            if not isinstance(case, dict) or not isinstance(case.get(key), str):
                raise CatalogError(
                    f"{path}: checks/{index}/cases/{number}/{key}: missing or not a str"
                )
    return [{key: case[key] for key in CASE_TEXT} for case in cases]


def presented_checks(path: Path = CHECK_CATALOG) -> list[dict[str, Any]]:
    """The harness's checks in matrix order, each with the text the site shows."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CatalogError(f"{path}: cannot be read: {error}") from error
    checks = []
    for index, item in enumerate(raw.get("checks", []) if isinstance(raw, dict) else []):
        for key, kind in {"id": str, **CHECK_TEXT}.items():
            if not isinstance(item, dict) or not isinstance(item.get(key), kind):
                raise CatalogError(
                    f"{path}: checks/{index}/{key}: missing or not a {kind.__name__}"
                )
        checks.append(
            {key: item[key] for key in ("id", *CHECK_TEXT)} | {"cases": _cases(path, index, item)}
        )
    if not checks:
        raise CatalogError(f"{path}: checks: no check listed")
    return checks
