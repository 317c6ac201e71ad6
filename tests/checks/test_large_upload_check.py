"""The large-upload check against the sample project's real application under a tiny WSGI
server that streams the body to Django, one that reads it into memory first, and one that
never closes its responses (so Django's temporary files stay), with a shortened upload."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence.schema import load_schema
from harness.checks import run_check
from harness.checks.operations import large_upload
from harness.checks.operations.large_upload import MIB, judge
from tests.checks.project_servers import assert_valid_in_a_run, started

# Large enough that holding it shows above the tiny server's own memory noise, small enough
# to send in well under a second.
SHORT_UPLOAD = 48 * MIB


@pytest.fixture(autouse=True)
def short_upload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(large_upload, "UPLOAD_BYTES", SHORT_UPLOAD)
    monkeypatch.setattr(large_upload, "CLEANUP_WAIT_S", 1.0)


def test_a_server_that_streams_the_body_to_django_is_yes(tmp_path: Path) -> None:
    with started("wsgi", "streams", tmp_path, collect=False) as context:
        result = run_check(large_upload.CHECK, context)
    assert result["outcome"] == "yes", result["summary"]
    evidence = result["evidence"]
    assert evidence["answer"]["file_bytes"] == SHORT_UPLOAD
    assert evidence["answer"]["file_sha256"] == evidence["upload"]["sha256"]
    assert evidence["answer"]["uploaded_as"] == "TemporaryUploadedFile"
    # Django wrote the file to the scratch FILE_UPLOAD_TEMP_DIR and removed it at the end.
    made = Path(evidence["answer"]["temporary_file"])
    assert made.parent.name == "upload-temp"
    assert made.name in evidence["temp_files_seen"]
    assert evidence["temp_files_left"] == []
    assert evidence["memory_growth_bytes"] < large_upload.BUFFERED_FRACTION * SHORT_UPLOAD
    # Under WSGI the view starts before the body has arrived: Django reads it as it parses.
    seconds = evidence["seconds"]
    assert seconds["view_started_after_first_byte_s"] < seconds["send_s"]
    assert_valid_in_a_run(result)


def test_a_server_that_reads_the_body_into_memory_first_is_partial(tmp_path: Path) -> None:
    with started("wsgi", "buffers", tmp_path, collect=False) as context:
        result = run_check(large_upload.CHECK, context)
    assert result["outcome"] == "partial", result["summary"]
    assert result["cause"] == "server"
    assert "held the body in memory" in result["summary"]
    assert result["evidence"]["memory_growth_bytes"] >= 0.75 * SHORT_UPLOAD
    assert_valid_in_a_run(result)


def test_a_server_that_never_closes_the_response_leaves_the_temporary_file(
    tmp_path: Path,
) -> None:
    with started("wsgi", "keeps-responses", tmp_path, collect=False) as context:
        result = run_check(large_upload.CHECK, context)
    assert result["outcome"] == "partial", result["summary"]
    assert "a temporary file stayed" in result["summary"]
    assert len(result["evidence"]["temp_files_left"]) == 1
    assert_valid_in_a_run(result)


def _record(**changes: object) -> dict:
    record = {
        "upload": {"size_bytes": 100, "sha256": "s", "status": 200, "ended": "answered",
                   "send_error": None},
        "answer": {"file_bytes": 100, "file_sha256": "s"},
        "memory_growth_bytes": 0,
        "temp_files_seen": ["a.upload"],
        "temp_files_left": [],
        "seconds": {"view_started_after_first_byte_s": 1.0, "answer_after_last_byte_s": 0.5},
    }  # fmt: skip
    record.update(changes)
    return record


def test_a_short_or_altered_file_or_no_answer_is_no() -> None:
    assert judge(_record())[0] == "yes"
    assert judge(_record(answer={"file_bytes": 99, "file_sha256": "s"}))[0] == "no"
    assert judge(_record(answer={"file_bytes": 100, "file_sha256": "t"}))[0] == "no"
    refused = _record(answer=None)
    refused["upload"] = {**refused["upload"], "status": 413}
    outcome, summary = judge(refused)
    assert outcome == "no" and "HTTP 413" in summary


def test_the_evidence_schema_has_a_block_for_the_check() -> None:
    block = load_schema("check-evidence")["$defs"]["checks"]["large-upload"]
    assert {"upload", "answer", "seconds", "memory_growth_bytes", "temp_files_left"} <= set(
        block["properties"]
    )
