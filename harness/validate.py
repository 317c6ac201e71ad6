"""``nox -s validate``: every data file, every server definition and the version axis
(harness/versions.toml), with the cross-checks that need the harness.

``evidence.validation`` checks parsing, shape, layout and meaning, and that each file's server
has a definition in ``harness/servers/`` and each check id is one the harness has, from the ids
passed in (the site build runs it too, with the ids of the definition files and the check
catalog: ``generators.reading``). This passes the harness's own ids and adds the definitions'
problems. Every problem is reported, named by file and field.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from evidence.layout import DEFAULT_DATA_DIR
from evidence.schema import SCHEMA_VERSION
from evidence.validation import Evidence, KnownIds, check_data
from harness.definitions import (
    DEFINITIONS_DIR,
    DefinitionError,
    ServerDefinition,
    load_definitions,
)
from harness.environments import project_requirements
from harness.versions import REPOSITORY_SERVERS, VERSIONS_FILE, VersionsError, load_versions

if TYPE_CHECKING:  # harness.checks is imported late at run time: checks import the launcher
    from harness.checks import Check

PRESENTED = ("name", "summary", "homepage", "docs", "notes")
CHECK_TEXT = ("title", "group", "question", "thresholds")


def review(
    data_root: Path = DEFAULT_DATA_DIR,
    definitions_dir: Path = DEFINITIONS_DIR,
    known_checks: set[str] | None = None,
    versions_file: Path | None = None,
) -> tuple[list[str], list[str]]:
    """The problems of ``data_root``, the definitions and the version axis, as 'file: field:
    problem' lines, and the notes on shown run files whose text differs from the
    repository's; reads each once. ``versions_file``: by default harness/versions.toml where
    the definitions are the repository's own (another directory of definitions, a test's or
    a contributor's draft, is not what that file declares releases for)."""
    from harness.checks import all_checks  # imported late: checks import the launcher

    errors: list[str] = []
    try:
        definitions = load_definitions(definitions_dir)
    except DefinitionError as error:
        errors.extend(error.problems)
        definitions = {}
    if versions_file is None and definitions_dir.resolve() == REPOSITORY_SERVERS:
        versions_file = VERSIONS_FILE
    if versions_file is not None and definitions:
        errors += version_axis_problems(definitions, versions_file)
    checks = {check.id: check for check in all_checks()}
    known = KnownIds(
        frozenset(definitions), frozenset(checks if known_checks is None else known_checks)
    )
    evidence, problems = check_data(data_root, known)
    errors += _unknown_checks_named(definitions, set(checks))
    return errors + problems, _notes(evidence, definitions, checks, definitions_dir)


def version_axis_problems(
    definitions: dict[str, ServerDefinition], versions_file: Path = VERSIONS_FILE
) -> list[str]:
    """harness/versions.toml's problems against these definitions, one line each."""
    try:
        load_versions(definitions, project_requirements(), versions_file)
    except VersionsError as error:
        return error.problems
    return []


def _unknown_checks_named(definitions: dict[str, ServerDefinition], known: set[str]) -> list[str]:
    """Options and absence claims must name checks the harness has: a typo would silently
    never try the option."""
    problems = []
    for definition in definitions.values():
        named = [
            (f"options.{option.id}.checks", option.checks) for option in definition.options.values()
        ]
        named += [
            (f"absent[{i}].checks", claim.checks) for i, claim in enumerate(definition.absent)
        ]
        for where, ids in named:
            for check_id in ids:
                if check_id not in known:
                    problems.append(
                        f"{definition.path}: {where}: {check_id!r} is not a check id "
                        f"(known: {', '.join(sorted(known))})"
                    )
    return problems


def validate(
    data_root: Path = DEFAULT_DATA_DIR,
    definitions_dir: Path = DEFINITIONS_DIR,
    known_checks: set[str] | None = None,
    versions_file: Path | None = None,
) -> list[str]:
    """Every problem in ``data_root``, the definitions and the version axis, as 'file: field:
    problem' lines."""
    return review(data_root, definitions_dir, known_checks, versions_file)[0]


def presentation_notes(
    data_root: Path = DEFAULT_DATA_DIR, definitions_dir: Path = DEFINITIONS_DIR
) -> list[str]:
    return review(data_root, definitions_dir)[1]


def _notes(
    evidence: Evidence,
    definitions: dict[str, ServerDefinition],
    checks: dict[str, Check],
    definitions_dir: Path,
) -> list[str]:
    """The newest run file of each server (the one the site shows) where its server or check
    text differs from today's definition or check. Not a problem (definitions change; files
    keep what was true when they were measured), but the site shows the definition's server
    text, so a reviewer of a contributed file sees where the file's own differs."""
    notes = []
    for loaded in evidence.newest_runs().values():
        server = loaded.document["server"]
        definition = definitions.get(server["id"])
        record = definition.as_record() if definition else {}
        for key in PRESENTED:
            if definition and server.get(key) != record.get(key):
                notes.append(
                    f"{loaded.path}: server/{key} differs from {definitions_dir / server['id']}"
                    ".toml; the site shows the definition's"
                )
        for index, result in enumerate(loaded.document["checks"]):
            check = checks.get(result["id"])
            for key in CHECK_TEXT:
                if check is not None and result[key] != getattr(check, key):
                    notes.append(
                        f"{loaded.path}: checks/{index}/{key} differs from the harness's "
                        f"{result['id']} check"
                    )
    for loaded in [*evidence.captures.values(), *evidence.version_captures.values()]:
        if loaded.document["state"] != "complete":
            notes.append(
                f"{loaded.path}: capture {loaded.document['capture']} is "
                f"{loaded.document['state']}; its files are whole, and "
                f"`python -m harness capture --resume {loaded.document['capture']}` continues it"
            )
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.validate", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)
    errors, notes = review(args.data_dir)
    for line in notes:
        print(f"note: {line}")
    for line in errors:
        print(line, file=sys.stderr)
    if errors:
        print(f"\n{len(errors)} problem(s) found; data/ is not valid.", file=sys.stderr)
        return 1
    print(f"data/ is valid (schema version {SCHEMA_VERSION}; older files are read upgraded).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
