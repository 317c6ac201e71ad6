"""The data the site renders: ``data/`` read through ``evidence.validation`` with the ids the
repository defines (servers from their definition files, checks from the check catalog), the
same reader and cross-checks ``nox -s validate`` runs, so the site build refuses what it
refuses: a file of an unknown server or check never becomes a page."""

from __future__ import annotations

from pathlib import Path

from evidence.validation import Evidence, KnownIds, check_data
from generators.definitions import (
    CHECK_CATALOG,
    DEFINITIONS_DIR,
    defined_server_ids,
    presented_checks,
)


def known_ids(definitions_dir: Path = DEFINITIONS_DIR, catalog: Path = CHECK_CATALOG) -> KnownIds:
    """The server and check ids the repository defines; CatalogError when the catalog cannot
    be read."""
    checks = frozenset(check["id"] for check in presented_checks(catalog))
    return KnownIds(defined_server_ids(definitions_dir), checks)


def read_data(root: Path) -> tuple[Evidence, list[str]]:
    """Every file under ``root`` read once: the evidence that passed, and every problem as a
    'file: field: problem' line (the site renders nothing when there is one)."""
    return check_data(root, known_ids())
