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
    print(f"data/ is valid (schema version {SCHEMA_VERSION}; older files are read upgraded).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
