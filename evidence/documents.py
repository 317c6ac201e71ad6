"""Reading and writing one data file.

Reading: parse, check the version, validate against that version's schema, upgrade step by
step (``migrations``), validate against the current schema. Writing: validate, then write
atomically, so that an invalid document never reaches ``data/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evidence.files import DataError, dumps, read_json, write_atomically
from evidence.metrics import unregistered_names
from evidence.migrations import STEPS
from evidence.schema import SCHEMA_VERSION, has_schema, schema_errors

OLDEST_VERSION = min(STEPS, default=SCHEMA_VERSION)


def version_problem(document: Any) -> str | None:
    """Why a document's ``schema_version`` cannot be read, or None when it can."""
    version = document.get("schema_version") if isinstance(document, dict) else None
    if isinstance(version, int) and not isinstance(version, bool):
        if OLDEST_VERSION <= version <= SCHEMA_VERSION:
            return None
        if version > SCHEMA_VERSION:
            return (
                f"schema_version: {version} is newer than this checkout understands "
                f"({SCHEMA_VERSION}); update your checkout (git pull) before reading it."
            )
    return (
        f"schema_version: {version!r} is not supported (this checkout reads versions "
        f"{OLDEST_VERSION} to {SCHEMA_VERSION}); re-capture the file with "
        "`scripts/nox -s regenerate`."
    )


def upgraded(document: dict[str, Any], kind: str, where: str) -> tuple[dict[str, Any], list[str]]:
    """``document`` at the current version, and its problems ('field: problem' lines); the
    problems of an older file are named against its own version's schema."""
    problem = version_problem(document)
    if problem is not None:
        return document, [problem]
    version = document["schema_version"]
    if not has_schema(kind, version):
        return document, [f"schema_version: {kind} files have no version {version}"]
    problems = schema_errors(document, kind, version)
    if problems:
        if version != SCHEMA_VERSION:
            problems = [f"{line} (schema version {version})" for line in problems]
        return document, problems
    while version < SCHEMA_VERSION:
        try:
            document = STEPS[version](document, kind, where)
        except DataError as error:
            return document, [str(error).removeprefix(f"{where}: ")]
        version += 1
    return document, schema_errors(document, kind)


def read_document(path: Path, kind: str) -> dict[str, Any]:
    """Load, upgrade and validate one data file; DataError names the file and every bad field."""
    document, problems = upgraded(read_json(path), kind, str(path))
    if problems:
        raise DataError(f"{path}:\n  " + "\n  ".join(problems))
    return document


def write_document(
    path: Path, document: dict[str, Any], kind: str, *, replacing: bool = False
) -> None:
    """Validate, then write atomically: an invalid document never reaches ``data/``, and an
    existing file is never replaced (ExistingFile) unless ``replacing`` (a capture's own
    record, rewritten by that capture: ``evidence.files.write_atomically``)."""
    problems = schema_errors(json.loads(dumps(document)), kind)
    if kind == "benchmark":
        problems += unregistered_names(document)
    if problems:
        raise DataError(f"refusing to write {path}:\n  " + "\n  ".join(problems))
    write_atomically(path, dumps(document), replacing=replacing)
