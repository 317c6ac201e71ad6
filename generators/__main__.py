"""Write the generated pages to a directory: ``python -m generators OUT_DIR [--data DIR]``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from evidence.files import DataError
from evidence.layout import DEFAULT_DATA_DIR
from generators.definitions import CatalogError
from generators.reading import read_data
from generators.render import render_pages
from generators.repository import REPO_URL_VARIABLE, repository_address


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m generators", description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args()
    try:
        evidence, problems = read_data(args.data)
        if problems:
            raise DataError("\n".join(problems))
        # As the site build does: cited files link to the repository when its address is given.
        pages = render_pages(evidence, repository_address(os.environ.get(REPO_URL_VARIABLE)))
    except (DataError, CatalogError) as error:
        print(f"error: cannot render invalid data:\n{error}", file=sys.stderr)
        return 1
    for relative, content in pages.items():
        target = args.out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):  # the capture archives
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    print(f"wrote {len(pages)} pages to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
