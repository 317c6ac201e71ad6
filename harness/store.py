"""Where evidence lives on disk, and how it is written and read back.

Layout (asv-style: merging results from several people is adding files):

    data/schema/*.schema.json               the JSON Schemas of the files below
    data/machines/<machine>.json            one description per machine
    data/runs/<machine>/<capture>/<server>.json
                                            one immutable file per server per capture
    data/benchmarks/<machine>/<capture>/<server>.json
                                            its benchmark figures (and calibration.json)

A capture is one invocation of the harness; its id is the UTC time it started, so two captures
on one machine never share a directory and two machines never share a file.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_VERSION = 1
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / "data"
SCHEMA_DIR = DEFAULT_DATA_DIR / "schema"


class DataError(Exception):
    """A data file that cannot be used, with the file and field named."""


def _rounded(value: Any) -> Any:
    """Round floats so re-captures produce reviewable diffs, not 17-digit noise."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"refusing to store a non-finite number: {value!r}")
        return round(value, 6)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(item) for item in value]
    return value


def dumps(document: dict[str, Any]) -> str:
    """The one JSON style of ``data/``: sorted keys, indent 2, trailing newline."""
    return json.dumps(_rounded(document), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` so that readers see the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_schema(kind: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / f"{kind}.schema.json").read_text(encoding="utf-8"))


def _shortened(message: str, limit: int = 300) -> str:
    """Messages quote the bad value; a 50 kB value must not drown the report."""
    if len(message) <= limit:
        return message
    return f"{message[:200]}... ({len(message) - 280} characters left out) ...{message[-80:]}"


def schema_errors(document: Any, kind: str) -> list[str]:
    """Every way ``document`` breaks the ``kind`` schema, as 'field: problem' lines."""
    validator = jsonschema.Draft202012Validator(load_schema(kind))
    messages = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        field = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        messages.append(f"{field}: {_shortened(error.message)}")
    return messages


def check_schema_version(document: Any, path: Path) -> None:
    version = document.get("schema_version") if isinstance(document, dict) else None
    if version == SCHEMA_VERSION:
        return
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise DataError(
            f"{path}: schema_version {version} is newer than this checkout understands "
            f"({SCHEMA_VERSION}); update your checkout (git pull) before rendering it."
        )
    raise DataError(
        f"{path}: schema_version {version!r} is not supported (expected {SCHEMA_VERSION}); "
        "version 1 is the first, so no migration exists: re-capture it with "
        "`scripts/nox -s regenerate`."
    )


def read_document(path: Path, kind: str) -> dict[str, Any]:
    """Load and validate one data file; DataError names the file and every bad field."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{path}: not readable JSON: {error}") from error
    check_schema_version(document, path)
    problems = schema_errors(document, kind)
    if problems:
        raise DataError(f"{path}:\n  " + "\n  ".join(problems))
    return document


def write_document(path: Path, document: dict[str, Any], kind: str) -> None:
    """Validate, then write atomically: an invalid document never reaches ``data/``."""
    problems = schema_errors(json.loads(dumps(document)), kind)
    if problems:
        raise DataError(f"refusing to write {path}:\n  " + "\n  ".join(problems))
    write_atomically(path, dumps(document))


@dataclass(frozen=True)
class DataDir:
    root: Path

    def machine_path(self, machine_id: str) -> Path:
        return self.root / "machines" / f"{machine_id}.json"

    def run_path(self, machine_id: str, capture_id: str, server_id: str) -> Path:
        return self.root / "runs" / machine_id / capture_id / f"{server_id}.json"

    def run_paths(self) -> Iterator[Path]:
        yield from sorted((self.root / "runs").glob("*/*/*.json"))

    def benchmark_path(self, machine_id: str, capture_id: str, name: str) -> Path:
        return self.root / "benchmarks" / machine_id / capture_id / f"{name}.json"

    def benchmark_paths(self) -> Iterator[Path]:
        yield from sorted((self.root / "benchmarks").glob("*/*/*.json"))

    def load_benchmarks(self) -> list[dict[str, Any]]:
        return [read_document(path, "benchmark") for path in self.benchmark_paths()]

    def machine_paths(self) -> Iterator[Path]:
        yield from sorted((self.root / "machines").glob("*.json"))

    def load_runs(self) -> list[dict[str, Any]]:
        return [read_document(path, "run") for path in self.run_paths()]

    def load_machines(self) -> dict[str, dict[str, Any]]:
        machines = {}
        for path in self.machine_paths():
            document = read_document(path, "machine")
            if document["id"] != path.stem:
                raise DataError(f"{path}: id: {document['id']!r} must equal the file name")
            machines[document["id"]] = document
        return machines
