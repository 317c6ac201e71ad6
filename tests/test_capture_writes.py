"""A capture never loses a finished result to a write failure: a data folder it cannot write
is refused before any server starts, and a full disk mid-capture loses only the file being
written, named with its reason. Real file systems: a read-only and a tiny tmpfs mount."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from evidence.documents import read_document, write_document
from evidence.layout import REPO_ROOT, DataDir
from harness.capture_plan import Capture, NotWritable, check_writable
from harness.profiles import PROFILES
from tests import synthetic


@contextmanager
def mounted_tmpfs(where: Path, options: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mount.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_read_only_data_folder_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with mounted_tmpfs(tmp_path / "data", "ro,size=1m") as data:
        completed = subprocess.run(
            [sys.executable, "-m", "harness", "capture", "--quick", "--data-dir", str(data)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 2
        lines = completed.stderr.strip().splitlines()
        assert lines == [
            f"error: cannot write in {data}/machines: [Errno 30 EROFS] Read-only file system; "
            "nothing was started"
        ]
        assert "Traceback" not in completed.stderr


def test_too_little_room_is_refused_with_the_free_space(tmp_path: Path) -> None:
    too_little = r"only 1\.0 MiB free under .*needs at least 50 MiB"
    with (
        mounted_tmpfs(tmp_path / "data", "size=1m") as data,
        pytest.raises(NotWritable, match=too_little),
    ):
        check_writable(DataDir(data), "test-machine")


def test_a_full_disk_loses_only_the_file_being_written(tmp_path: Path) -> None:
    with mounted_tmpfs(tmp_path / "data", "size=256k") as root:
        data = DataDir(root)
        capture = Capture(
            synthetic.CAPTURE_ID, synthetic.MACHINE_ID, PROFILES["quick"], data, tmp_path
        )
        write_document(data.machine_path(synthetic.MACHINE_ID), synthetic.machine(), "machine")
        small = synthetic.run("alpha")
        big = synthetic.run("beta")
        big["checks"][0]["evidence"]["log"] = "x" * 19_000
        big["checks"] = [big["checks"][0] | {"id": f"check-{n}"} for n in range(40)]
        first = data.run_path(synthetic.MACHINE_ID, synthetic.CAPTURE_ID, "alpha")
        second = data.run_path(synthetic.MACHINE_ID, synthetic.CAPTURE_ID, "beta")
        assert capture.write(first, small, "run", "alpha") == first
        assert capture.write(second, big, "run", "beta") is None
        assert capture.not_captured == {
            "beta": f"{second} could not be written: [Errno 28 ENOSPC] No space left on device"
        }
        assert read_document(first, "run") == small  # the finished one is kept, whole
        assert not second.exists()
        assert [p.name for p in second.parent.iterdir()] == ["alpha.json"]  # no temp file left


def test_data_files_are_readable_by_everyone(tmp_path: Path) -> None:
    path = tmp_path / "machines" / "m.json"
    old_umask = os.umask(0o077)
    try:
        write_document(path, synthetic.machine("m"), "machine")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
