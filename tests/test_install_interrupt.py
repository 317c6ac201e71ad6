"""Environment installs end with the run: an installer (and what it started, like a compiler)
is killed on Ctrl-C, an install waiting its turn never starts after it, and an interrupted
environment is never marked complete."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from harness import environments, process
from harness.environments import InstallError, ensure_environment
from tests import synthetic
from tests.conftest import processes_mentioning

# A stand-in for uv: `venv` succeeds at once; `pip install` starts a long-lived child (as uv
# starts gcc for uWSGI) and waits for it.
FAKE_UV = """\
import pathlib, subprocess, sys
if sys.argv[1] == "venv":
    target = pathlib.Path(sys.argv[-1]); (target / "bin").mkdir(parents=True, exist_ok=True)
    sys.exit(0)
marker = pathlib.Path(sys.argv[0]).with_name("started")
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", "{tag}"])
marker.write_text(str(child.pid))
child.wait()
"""


def _fake_uv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    tag = f"fake-compiler-{tmp_path.name}"
    script = tmp_path / "uv.py"
    script.write_text(FAKE_UV.replace("{tag}", tag))
    wrapper = tmp_path / "uv"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {script} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setattr(environments, "_uv", lambda: str(wrapper))
    return tag


def test_ending_the_run_kills_an_installer_and_its_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = _fake_uv(tmp_path, monkeypatch)
    definition = synthetic.definition("slow-install")
    failures: list[BaseException] = []

    def install() -> None:
        try:
            ensure_environment(definition, tmp_path / "envs")
        except InstallError as error:
            failures.append(error)

    worker = threading.Thread(target=install)
    worker.start()
    deadline = time.monotonic() + 30
    while not (tmp_path / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_mentioning(tag), "the stand-in compiler did not start"
    process.end_all(refuse_new=False)  # what Ctrl-C does (this test process goes on)
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert len(failures) == 1 and "failed (-9)" in str(failures[0])
    deadline = time.monotonic() + 10
    while processes_mentioning(tag) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not processes_mentioning(tag)
    # Not marked complete: the next capture installs it again.
    assert not (tmp_path / "envs" / "slow-install" / environments._MARKER).exists()


def test_no_install_starts_once_the_run_is_being_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_uv(tmp_path, monkeypatch)
    closing = threading.Event()
    monkeypatch.setattr(process, "_closing", closing)
    closing.set()
    with pytest.raises(InstallError, match="the run is being stopped"):
        ensure_environment(synthetic.definition("late"), tmp_path / "envs")
    assert not (tmp_path / "started").exists()
