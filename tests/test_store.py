"""Data files: written atomically in one reviewable style, versions checked on read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evidence.documents import read_document, write_document
from evidence.files import DataError, dumps
from tests import synthetic


def test_json_style_is_sorted_indented_rounded_with_trailing_newline() -> None:
    text = dumps({"b": 1.123456789, "a": [0.1 + 0.2]})
    assert text == '{\n  "a": [\n    0.3\n  ],\n  "b": 1.123457\n}\n'


def test_non_finite_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        dumps({"rps": float("nan")})


def test_an_invalid_document_is_never_written(tmp_path: Path) -> None:
    document = synthetic.run()
    document["checks"][0]["outcome"] = "fine"
    target = tmp_path / "run.json"
    with pytest.raises(DataError, match="checks/0/outcome"):
        write_document(target, document, "run")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []  # no temp file left behind either


def test_an_existing_file_survives_a_failed_rewrite(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    write_document(target, synthetic.run(), "run")
    before = target.read_text()
    bad = synthetic.run()
    del bad["provenance"]
    with pytest.raises(DataError):
        write_document(target, bad, "run")
    assert target.read_text() == before


@pytest.mark.parametrize(
    ("version", "advice"), [(3, "update your checkout"), (0, "re-capture the file")]
)
def test_other_schema_versions_say_what_to_do(tmp_path: Path, version: int, advice: str) -> None:
    document = synthetic.run()
    document["schema_version"] = version
    path = tmp_path / "run.json"
    path.write_text(json.dumps(document))
    with pytest.raises(DataError, match=advice):
        read_document(path, "run")


def test_unreadable_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text('{"schema_version": 1,')
    with pytest.raises(DataError, match=r"run\.json: not readable JSON"):
        read_document(path, "run")
