"""`nox -s validate`: every malformed file is rejected, by name, with its field; none dropped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evidence.layout import REPO_ROOT
from harness.validate import validate
from tests import synthetic

CORPUS = Path(__file__).parent / "data" / "malformed"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())
KNOWN_CHECKS = {"concurrency-sync-sleep", "concurrency-async-sleep"}


def _data_with(tmp_path: Path, *files: Path) -> Path:
    """A scratch data/ tree holding a valid machine and the given run files (as server alpha)."""
    root = tmp_path / "data"
    synthetic.write_data(root, [])
    for index, source in enumerate(files):
        target = root / "runs" / synthetic.MACHINE_ID / f"2026010{index + 1}T000000Z" / "alpha.json"
        target.parent.mkdir(parents=True)
        text = source.read_text().replace(synthetic.CAPTURE_ID, target.parent.name)
        target.write_text(text)
    return root


def test_the_corpus_is_large_enough() -> None:
    assert len(EXPECTED) >= 15
    assert {path.stem for path in CORPUS.glob("*.json")} - {"expected"} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_malformed_file_is_rejected_with_its_field(tmp_path: Path, name: str) -> None:
    root = _data_with(tmp_path, CORPUS / f"{name}.json")
    errors = validate(root, known_checks=KNOWN_CHECKS)
    assert errors, f"{name} was accepted"
    assert all("alpha.json" in line for line in errors), errors
    assert any(EXPECTED[name] in line for line in errors), errors
    assert not any("Traceback" in line for line in errors)


def test_all_errors_are_reported_in_one_run(tmp_path: Path) -> None:
    files = [CORPUS / f"{name}.json" for name in sorted(EXPECTED)]
    root = _data_with(tmp_path, *files)
    errors = validate(root, known_checks=KNOWN_CHECKS)
    broken = {line.split(": ", 1)[0] for line in errors}
    assert len(broken) == len(files)


def test_stray_files_are_reported(tmp_path: Path) -> None:
    root = _data_with(tmp_path)
    (root / "runs").mkdir(exist_ok=True)
    (root / "runs" / "notes.txt").write_text("hello")
    assert any("not part of the data layout" in line for line in validate(root))


def test_the_committed_data_is_valid() -> None:
    assert validate() == []


def test_the_command_exits_non_zero_and_names_the_file(tmp_path: Path) -> None:
    root = _data_with(tmp_path, CORPUS / "outcome-not-allowed.json")
    completed = subprocess.run(
        [sys.executable, "-m", "harness.validate", "--data-dir", str(root)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1
    assert "alpha.json: checks/0/outcome: 'maybe' is not one of" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_a_far_future_capture_is_refused(tmp_path: Path) -> None:
    """A contributed capture dated 9999 would be shown as every server's newest result."""
    future = synthetic.run("alpha", capture="99991231T230000Z")  # its own times agree
    synthetic.write_data(tmp_path, [future])
    problems = validate(tmp_path)
    assert any("capture: '99991231T230000Z' is in the future" in line for line in problems)


def test_a_capture_id_far_from_its_file_s_start_is_refused(tmp_path: Path) -> None:
    backdated = synthetic.run("alpha", capture="20250101T000000Z")
    backdated["started_at"] = "2026-01-01T00:00:00.000Z"
    backdated["finished_at"] = "2026-01-01T00:01:00.000Z"
    synthetic.write_data(tmp_path, [backdated])
    problems = validate(tmp_path)
    assert any("started_at: '2026-01-01T00:00:00.000Z' is not within 2 days" in p for p in problems)
