"""Check every file under ``data/`` (and every server definition) for shape *and* meaning.

Every problem is reported, each naming the file, the field (as a path), the bad value and what
is allowed; nothing stops at the first error. ``nox -s validate`` runs this, and rendering
refuses data that does not pass it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.definitions import DEFINITIONS_DIR, DefinitionError, load_definitions
from harness.store import (
    DEFAULT_DATA_DIR,
    SCHEMA_VERSION,
    DataDir,
    DataError,
    check_schema_version,
    schema_errors,
)

# Evidence fields whose name ends in a unit are measurements and cannot be negative.
UNIT_SUFFIXES = ("_s", "_ms", "_bytes", "_rps", "_percent")
_LAYOUT = (
    "data/machines/<machine>.json, data/runs/<machine>/<capture>/<server>.json or "
    "data/benchmarks/<machine>/<capture>/<server>.json"
)
CALIBRATION_ID = "calibration"  # the one benchmark file that is not about a server


def _numbers(value: Any, path: str) -> Iterator[tuple[str, float]]:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}/{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _numbers(item, f"{path}/{index}")


def _number_problems(document: dict[str, Any]) -> list[str]:
    problems = []
    for path, number in _numbers(document, ""):
        if not math.isfinite(number):
            problems.append(f"{path}: {number!r} is not a finite number")
        elif number < 0 and path.rsplit("/", 1)[-1].endswith(UNIT_SUFFIXES):
            problems.append(f"{path}: {number!r} is a negative measurement (must be >= 0)")
    return problems


def _timestamp_problems(document: dict[str, Any]) -> list[str]:
    problems, moments = [], {}
    fields = [
        ("started_at", document.get("started_at")),
        ("finished_at", document.get("finished_at")),
    ]
    for key in ("checks", "results"):
        fields += [
            (f"{key}/{index}/measured_at", item.get("measured_at"))
            for index, item in enumerate(document.get(key) or [])
            if isinstance(item, dict)
        ]
    for field, value in fields:
        try:
            moments[field] = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            problems.append(f"{field}: {value!r} is not an ISO 8601 timestamp")
    if {"started_at", "finished_at"} <= moments.keys() and (
        moments["finished_at"] < moments["started_at"]
    ):
        problems.append(f"finished_at: {document['finished_at']!r} is before started_at")
    return problems


def _load(path: Path) -> tuple[Any, list[str]]:
    try:
        return json.loads(path.read_text(encoding="utf-8")), []
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, [f"(file): not readable JSON: {error}"]


def _layout_problems(
    path: Path, document: dict[str, Any], known_servers: set[str], machines: set[str]
) -> list[str]:
    """The directories and file name must say what the content says."""
    problems = []
    machine, capture, server = path.parts[-3], path.parts[-2], path.stem
    if document.get("machine") != machine:
        problems.append(
            f"machine: {document.get('machine')!r} must equal its directory {machine!r}"
        )
    if document.get("capture") != capture:
        problems.append(
            f"capture: {document.get('capture')!r} must equal its directory {capture!r}"
        )
    server_id = (document.get("server") or {}).get("id")
    if server_id != server:
        problems.append(f"server/id: {server_id!r} must equal the file name {server!r}")
    if known_servers and server_id not in known_servers:
        problems.append(
            f"server/id: {server_id!r} has no definition in harness/servers/ "
            f"(known: {', '.join(sorted(known_servers))})"
        )
    if document.get("machine") not in machines:
        problems.append(f"machine: {document.get('machine')!r} has no data/machines/ file")
    return problems


def benchmark_problems(
    path: Path, document: dict[str, Any], known_servers: set[str], machines: set[str]
) -> list[str]:
    """Meaning of a benchmark file: a failed figure publishes no number, an ok one has no
    failure, and a figure appears once."""
    allowed = known_servers | {CALIBRATION_ID} if known_servers else set()
    problems = _layout_problems(path, document, allowed, machines)
    seen = set()
    for index, figure in enumerate(document.get("results") or []):
        key = (figure.get("scenario"), figure.get("figure"))
        if key in seen:
            problems.append(f"results/{index}: {key[0]} / {key[1]!r} appears twice")
        seen.add(key)
        if figure.get("status") == "failed":
            if figure.get("metrics"):
                problems.append(
                    f"results/{index}/metrics: a failed figure must publish no metrics "
                    f"(found {', '.join(sorted(figure['metrics']))})"
                )
            if not figure.get("failure"):
                problems.append(f"results/{index}/failure: a failed figure needs its reason")
        elif figure.get("failure"):
            problems.append(f"results/{index}/failure: {figure['failure']!r} on an ok figure")
    return problems + _timestamp_problems(document) + _number_problems(document)


def run_problems(
    path: Path,
    document: dict[str, Any],
    known_servers: set[str],
    known_checks: set[str],
    machines: set[str],
) -> list[str]:
    """Meaning, beyond the schema: ids that exist, a layout that matches the content."""
    problems = _layout_problems(path, document, known_servers, machines)
    seen = set()
    for index, check in enumerate(document.get("checks") or []):
        check_id = check.get("id") if isinstance(check, dict) else None
        if known_checks and check_id not in known_checks:
            problems.append(
                f"checks/{index}/id: {check_id!r} is not a known check "
                f"(known: {', '.join(sorted(known_checks))})"
            )
        if check_id in seen:
            problems.append(f"checks/{index}/id: {check_id!r} appears twice")
        seen.add(check_id)
    return problems + _timestamp_problems(document) + _number_problems(document)


def validate(
    data_root: Path = DEFAULT_DATA_DIR,
    definitions_dir: Path = DEFINITIONS_DIR,
    known_checks: set[str] | None = None,
) -> list[str]:
    """Every problem in ``data_root`` and the definitions, as 'file: field: problem' lines."""
    from harness.checks import all_checks  # imported late: checks import the launcher

    errors: list[str] = []
    try:
        known_servers = set(load_definitions(definitions_dir))
    except DefinitionError as error:
        errors.extend(str(error).splitlines())
        known_servers = set()
    if known_checks is None:
        known_checks = {check.id for check in all_checks()}

    data = DataDir(data_root)
    machines = set()
    for path in sorted(data_root.rglob("*")):
        if path.is_dir() or path.parent == data_root / "schema" or path.name == "README.md":
            continue
        relative = path.relative_to(data_root)
        is_machine = len(relative.parts) == 2 and relative.parts[0] == "machines"
        is_run = len(relative.parts) == 4 and relative.parts[0] in ("runs", "benchmarks")
        if path.suffix != ".json" or not (is_machine or is_run):
            errors.append(f"{path}: not part of the data layout ({_LAYOUT})")
            continue
        if is_machine:
            document, problems = _load(path)
            if document is not None:
                problems = _document_problems(path, document, "machine")
                if isinstance(document, dict) and document.get("id") != path.stem:
                    problems.append(f"id: {document.get('id')!r} must equal the file name")
            machines.add(path.stem)
            errors.extend(f"{path}: {problem}" for problem in problems)

    for path in data.run_paths():
        document, problems = _load(path)
        if document is not None:
            problems = _document_problems(path, document, "run")
            if not problems:
                problems = run_problems(path, document, known_servers, known_checks, machines)
        errors.extend(f"{path}: {problem}" for problem in problems)

    for path in data.benchmark_paths():
        document, problems = _load(path)
        if document is not None:
            problems = _document_problems(path, document, "benchmark")
            if not problems:
                problems = benchmark_problems(path, document, known_servers, machines)
        errors.extend(f"{path}: {problem}" for problem in problems)
    return errors


def _document_problems(path: Path, document: Any, kind: str) -> list[str]:
    try:
        check_schema_version(document, path)
    except DataError as error:
        return [str(error).removeprefix(f"{path}: ")]
    return schema_errors(document, kind)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.validate", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)
    errors = validate(args.data_dir)
    for line in errors:
        print(line, file=sys.stderr)
    if errors:
        print(f"\n{len(errors)} problem(s) found; data/ is not valid.", file=sys.stderr)
        return 1
    print(f"data/ is valid (schema version {SCHEMA_VERSION}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
