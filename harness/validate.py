"""``nox -s validate``: every data file and every server definition, with the cross-checks that
need the harness.

``evidence.validation`` checks shape, layout and meaning (it is what the site build runs too);
this adds what only the harness knows: that each run's server has a definition in
``harness/servers/`` and each check id is one the harness has. Every problem is reported,
named by file and field.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from evidence.layout import DEFAULT_DATA_DIR
from evidence.schema import SCHEMA_VERSION
from evidence.validation import KnownIds, check_data
from harness.definitions import DEFINITIONS_DIR, DefinitionError, load_definitions


def validate(
    data_root: Path = DEFAULT_DATA_DIR,
    definitions_dir: Path = DEFINITIONS_DIR,
    known_checks: set[str] | None = None,
) -> list[str]:
    """Every problem in ``data_root`` and the definitions, as 'file: field: problem' lines."""
    from harness.checks import all_checks  # imported late: checks import the launcher

    errors: list[str] = []
    try:
        known_servers = frozenset(load_definitions(definitions_dir))
    except DefinitionError as error:
        errors.extend(error.problems)
        known_servers = frozenset()
    if known_checks is None:
        known_checks = {check.id for check in all_checks()}
    _, problems = check_data(data_root, KnownIds(known_servers, frozenset(known_checks)))
    return errors + problems


PRESENTED = ("name", "summary", "homepage", "docs", "notes")


def presentation_notes(
    data_root: Path = DEFAULT_DATA_DIR, definitions_dir: Path = DEFINITIONS_DIR
) -> list[str]:
    """The newest run file of each server (the one the site shows) where its server text differs
    from today's definition. Not a problem (definitions change; files keep what was true when
    they were measured), but the site shows the definition's text, so a reviewer of a
    contributed file sees where the file's own differs."""
    try:
        definitions = load_definitions(definitions_dir)
    except DefinitionError:
        return []  # validate reports the definitions' problems
    evidence, _ = check_data(data_root)
    newest: dict[str, Any] = {}
    for loaded in evidence.runs:
        server_id = loaded.document["server"]["id"]
        if (
            server_id not in newest
            or loaded.document["capture"] > newest[server_id].document["capture"]
        ):
            newest[server_id] = loaded
    notes = []
    for loaded in newest.values():
        server = loaded.document["server"]
        definition = definitions.get(server["id"])
        if definition is None:
            continue
        record = definition.as_record()
        for key in PRESENTED:
            if server.get(key) != record.get(key):
                notes.append(
                    f"{loaded.path}: server/{key} differs from {definitions_dir / server['id']}"
                    ".toml; the site shows the definition's"
                )
    # Check titles and questions on the site come from the newest runs: say where they differ
    # from the harness's own checks, so a contributed file's wording is seen in review.
    from harness.checks import all_checks  # imported late: checks import the launcher

    checks = {check.id: check for check in all_checks()}
    for loaded in newest.values():
        for index, result in enumerate(loaded.document["checks"]):
            check = checks.get(result["id"])
            for key in ("title", "group", "question", "thresholds"):
                if check is not None and result[key] != getattr(check, key):
                    notes.append(
                        f"{loaded.path}: checks/{index}/{key} differs from the harness's "
                        f"{result['id']} check"
                    )
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.validate", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)
    errors = validate(args.data_dir)
    for line in presentation_notes(args.data_dir):
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
