"""The check catalog: each check's id, title, group, question and thresholds, in matrix order,
written to ``harness/checks/catalog.json`` for the site.

The site says what a check is from this reviewed file in the repository, never from a data file
(a contributed file could otherwise retitle the matrix's columns). The generators cannot import
the checks (they import Django clients and the launcher), so the file is generated from them
and ``tests/test_check_catalog.py`` fails when it is out of date:

    python -m harness.checks.catalog        # rewrite harness/checks/catalog.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

CATALOG_PATH = Path(__file__).resolve().with_name("catalog.json")
FIELDS = ("id", "title", "group", "question", "thresholds", "timed")
OPTIONAL_FIELDS = ("cases",)  # written only for the checks that have them


def catalog_records() -> list[dict[str, Any]]:
    """Every check's presented text, in the order the matrix shows them."""
    from harness.checks import all_checks  # late: this module is imported by the package

    return [
        {name: getattr(check, name) for name in FIELDS}
        | {name: list(getattr(check, name)) for name in OPTIONAL_FIELDS if getattr(check, name)}
        for check in all_checks()
    ]


def catalog_text() -> str:
    return json.dumps({"checks": catalog_records()}, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    CATALOG_PATH.write_text(catalog_text(), encoding="utf-8")
    print(f"wrote {CATALOG_PATH} ({len(catalog_records())} checks)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
