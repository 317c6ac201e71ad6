"""One capture at a time per data folder, one id per capture, no file written twice: a second
capture or a --resume of a running one is refused naming the capture that runs (issue 33)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from evidence.documents import read_document, write_document
from evidence.files import ExistingFile
from evidence.layout import REPO_ROOT, DataDir
from evidence.validation import check_data
from harness.capture_plan import RUNNING, Capture, claim_capture_id
from harness.profiles import PROFILES
from tests import synthetic
from tests.conftest import processes_mentioning
from tests.test_capture import _definitions, _harness

MACHINE = "test-machine"
# Long enough that the capture is still running whenever a test looks: a server that never
# answers is waited for for the quick profile's whole start timeout (60 s); the test ends it.
WAITED_FOR = "hangs"


def _capture(data_dir: Path, servers: Path, environments_dir: Path) -> subprocess.Popen[str]:
    return _harness(
        "capture",
        "--quick",
        "--check",
        "concurrency-sync-sleep",
        "--servers-dir",
        str(servers),
        "--data-dir",
        str(data_dir),
        "--environments-dir",
        str(environments_dir),
        env={**os.environ, "SERVING_DJANGO_MACHINE": MACHINE},
    )


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output
    return output


def _only_record(data_dir: Path) -> dict:
    (path,) = data_dir.glob("captures/*/*.json")
    return read_document(path, "capture")


@pytest.mark.servers
def test_two_captures_started_together_one_runs_the_other_is_refused_naming_it(
    tmp_path: Path, environments_dir: Path
) -> None:
    servers, data_dir = _definitions(tmp_path / "servers", WAITED_FOR), tmp_path / "data"
    pair = [_capture(data_dir, servers, environments_dir) for _ in range(2)]
    try:
        while all(process.poll() is None for process in pair):
            time.sleep(0.1)
        (refused,) = [process for process in pair if process.poll() is not None]
        (running,) = [process for process in pair if process is not refused]
        output, _ = refused.communicate()
        assert refused.returncode == 2, output
        record = _only_record(data_dir)  # the refused one wrote nothing
        assert record["state"] == RUNNING
        assert record["holder"]["pid"] == running.pid
        assert f"another capture is running in {data_dir}: capture {record['capture']}" in output
        assert f"pid {running.pid}" in output and f"host {record['holder']['host']}" in output
        assert f"started at {record['started_at']}" in output
        assert "nothing was started" in output
        assert running.poll() is None  # refused without disturbing the one that runs
    finally:
        for process in pair:
            if process.poll() is None:
                _stop(process)
    assert _only_record(data_dir)["state"] == "interrupted"
    assert not processes_mentioning(str(environments_dir))


@pytest.mark.servers
def test_resume_of_a_running_capture_is_refused_naming_it(
    tmp_path: Path, environments_dir: Path
) -> None:
    servers, data_dir = _definitions(tmp_path / "servers", WAITED_FOR), tmp_path / "data"
    running = _capture(data_dir, servers, environments_dir)
    try:
        assert running.stdout is not None
        for line in running.stdout:  # its own file is written before it says this
            if line.startswith("capture ") or running.poll() is not None:
                break
        record_path = next(data_dir.glob("captures/*/*.json"))
        before = record_path.read_bytes()
        capture = read_document(record_path, "capture")["capture"]
        for resume in (["--resume"], ["--resume", capture]):
            resumed = _harness(
                "capture",
                *resume,
                "--servers-dir",
                str(servers),
                "--data-dir",
                str(data_dir),
                "--environments-dir",
                str(environments_dir),
                env={**os.environ, "SERVING_DJANGO_MACHINE": MACHINE},
            )
            output, _ = resumed.communicate(timeout=120)
            assert resumed.returncode == 2, output
            assert f"error: cannot resume: another capture is running in {data_dir}" in output
            assert f"capture {capture} (pid {running.pid}" in output
            assert record_path.read_bytes() == before  # no resumed_at, not taken over
        assert running.poll() is None
    finally:
        _stop(running)
    record = _only_record(data_dir)
    assert record["state"] == "interrupted" and record["resumed_at"] == []
    assert not processes_mentioning(str(environments_dir))


def _plan(data: DataDir, capture_id: str = "20260101T000000Z") -> Capture:
    return Capture(capture_id, MACHINE, PROFILES["quick"], data, data.root / "venvs")


def test_two_captures_of_one_second_get_ids_of_their_own(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "data")
    first = claim_capture_id(_plan(data))
    kept = data.capture_path(MACHINE, first.capture_id).read_bytes()
    second = claim_capture_id(_plan(data))
    # An earlier capture (before captures kept their own file) left only its runs folder.
    (data.root / "runs" / MACHINE / "20260101T000002Z").mkdir(parents=True)
    third = claim_capture_id(_plan(data))

    assert [first.capture_id, second.capture_id, third.capture_id] == [
        "20260101T000000Z",
        "20260101T000001Z",
        "20260101T000003Z",
    ]
    assert data.capture_path(MACHINE, first.capture_id).read_bytes() == kept
    for claimed in (second, third):
        record = read_document(data.capture_path(MACHINE, claimed.capture_id), "capture")
        assert record["capture"] == claimed.capture_id and record["state"] == RUNNING


def test_a_writer_refuses_to_replace_an_existing_data_file(tmp_path: Path) -> None:
    data = synthetic.write_data(tmp_path / "data", [synthetic.run("alpha")])
    (path,) = data.run_paths()
    before = path.read_bytes()
    other = synthetic.run("alpha")
    other["checks"] = []

    with pytest.raises(ExistingFile, match=f"refusing to replace {path}: it exists"):
        write_document(path, other, "run")
    capture = _plan(data, synthetic.run("alpha")["capture"])
    assert capture.write(path, other, "run", "alpha") is None  # reported, the capture goes on
    assert "could not be written: refusing to replace" in capture.not_captured["alpha"]
    machine = data.machine_path(synthetic.MACHINE_ID)
    with pytest.raises(ExistingFile):
        write_document(machine, synthetic.machine(), "machine")

    assert path.read_bytes() == before
    assert not list(data.root.rglob("*.tmp"))
    _, problems = check_data(data.root)
    assert problems == []


def test_a_capture_rewrites_its_own_record_and_nothing_else(tmp_path: Path) -> None:
    """The one exception to written-once: the capture's own record, state by state."""
    data = DataDir(tmp_path / "data")
    capture = claim_capture_id(_plan(data))
    assert capture.write_record("interrupted") is not None
    record = read_document(data.capture_path(MACHINE, capture.capture_id), "capture")
    assert record["state"] == "interrupted"


def test_a_second_regenerate_in_one_clone_is_refused_before_nox_starts(tmp_path: Path) -> None:
    lock = REPO_ROOT / ".regenerate.lock"
    # --no-fork: the lock is held by this one process, which kill() ends.
    holder = subprocess.Popen(
        ["flock", "--nonblock", "--no-fork", str(lock), "sh", "-c", "echo held; exec sleep 600"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        # flock exits at once, saying nothing, when it cannot take the lock.
        assert holder.stdout.readline() == "held\n", "a regenerate runs in this clone: retry"
        nox_environment = REPO_ROOT / ".nox" / "regenerate"
        existed = nox_environment.exists()
        completed = subprocess.run(
            [str(REPO_ROOT / "scripts" / "nox"), "-s", "regenerate", "--", "--quick"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        holder.kill()
        holder.wait()
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "another 'scripts/nox -s regenerate' is running in this clone" in completed.stderr
    assert "nox >" not in completed.stderr  # refused before nox ran
    assert nox_environment.exists() == existed
