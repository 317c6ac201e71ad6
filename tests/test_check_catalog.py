"""The check catalog: the site's column titles and questions come from the repository's checks,
never from a data file, and the catalog file is kept equal to the check modules."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evidence.validation import load_evidence
from generators.definitions import CatalogError, presented_checks
from generators.render import render_pages
from harness.checks import all_checks
from harness.checks.catalog import CATALOG_PATH, catalog_text
from tests import synthetic


def test_the_committed_catalog_is_the_checks_own_text() -> None:
    assert CATALOG_PATH.read_text(encoding="utf-8") == catalog_text(), (
        "harness/checks/catalog.json is out of date: run `python -m harness.checks.catalog`"
    )
    assert [check["id"] for check in presented_checks()] == [check.id for check in all_checks()]


def test_the_readme_counts_the_checks_there_are() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    found = re.search(r"\*\*Checks\*\* \((\d+) of them", readme)
    assert found is not None, "README.md's **Checks** paragraph no longer says how many"
    assert int(found.group(1)) == len(all_checks())


def test_a_data_file_cannot_retitle_a_column_or_reword_its_question(tmp_path: Path) -> None:
    run = synthetic.run("alpha")
    run["checks"][0].update(title="Totally Retitled", question="A contributed question?")
    synthetic.write_data(tmp_path, [run])
    pages = render_pages(load_evidence(tmp_path))
    check = next(c for c in presented_checks() if c["id"] == "concurrency-sync-sleep")
    for page in ("matrix.md", "servers/alpha.md", "methodology.md"):
        assert "Totally Retitled" not in pages[page], page
        assert check["title"] in pages[page], page
    assert "A contributed question?" not in pages["matrix.md"]
    assert check["question"][:30] in pages["matrix.md"]  # (Markdown escapes its dots)
    # The thresholds a result was judged by stay the file's own: they were true when measured.
    export = json.loads(pages["data/matrix.json"])
    assert [c["title"] for c in export["checks"]] == [check["title"]]


def test_only_checks_some_shown_run_measured_are_columns(tmp_path: Path) -> None:
    synthetic.write_data(tmp_path, [synthetic.run("alpha")])
    export = json.loads(render_pages(load_evidence(tmp_path))["data/matrix.json"])
    assert [c["id"] for c in export["checks"]] == ["concurrency-sync-sleep"]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("not json", "cannot be read"),
        ('{"checks": []}', "checks: no check listed"),
        ('{"checks": [{"id": "x", "title": 5}]}', "checks/0/title"),
    ],
)
def test_a_broken_catalog_is_named_with_its_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(text)
    with pytest.raises(CatalogError, match=field) as raised:
        presented_checks(path)
    assert str(path) in str(raised.value)
