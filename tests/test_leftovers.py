"""A capture killed with SIGKILL runs no cleanup: the next capture ends what it left running
(servers, PostgreSQL, nginx, a server that detached) and removes its scratch folders, and says
so. Real processes throughout; the killed harness is a real `python -m harness capture`, or a
real Python process holding the harness's PostgreSQL and nginx (what a polls run holds)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from evidence.layout import REPO_ROOT
from harness.network import free_port
from harness.process import listeners
from tests.conftest import TINY_HTTP, processes_mentioning

pytestmark = pytest.mark.servers

GOOD_SERVER = """
id = "good"
name = "good"
interface = "wsgi"
mode = "development"
summary = "Test definition."
homepage = "https://example.org/"
docs = "https://example.org/docs"
requirements = []
stop_signal = "SIGTERM"
[production]
workers_per_cpu = 0
workers_plus = 1
serves = "one-at-a-time"
rule = "One process (a test definition)"
docs = "https://example.org/docs"
[env]
DJANGO_DEV_MODE = "1"
[commands]
http = ["{python}", "manage.py", "runserver", "--noreload", "{host}:{port}"]
"""

# What a polls run holds while it measures: PostgreSQL and nginx, started by the harness.
HOLDS_POSTGRES_AND_NGINX = """
import sys, time
from pathlib import Path
from harness.benchmarks.nginx import running_nginx
from harness.postgres import running_postgres
from harness.process_registry import scratch_folder

with running_postgres() as postgres, scratch_folder("serving-django-bench-test-") as scratch:
    with running_nginx(scratch / "nginx", upstream_port=None, tls=None, http2=False) as nginx:
        print("holding", postgres.process.pid, nginx.process.pid, scratch, flush=True)
        time.sleep(600)
"""

# A harness whose server detached (setsid) and dropped the harness's environment marker: the
# record of the command that started it, and the port, are all that lead to it.
HOLDS_A_DETACHED_SERVER = """
import sys, time
from pathlib import Path
from harness.process import ServerProcess, listeners

port = int(sys.argv[1])
process = ServerProcess(
    ["env", "-u", "SERVING_DJANGO_OWNER", "setsid", "-f", sys.executable, sys.argv[2], str(port),
     "normal"],
    cwd=Path.cwd(), env={"PATH": "/usr/bin:/bin"}, log_path=Path(sys.argv[3]),
    stop_signal="SIGTERM", kind="server detaching", port=port,
)
process.start()
while not listeners(port):
    time.sleep(0.05)
print("holding", flush=True)
time.sleep(600)
"""


def _environment(state: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SERVING_DJANGO_STATE_DIR": str(state),
        "SERVING_DJANGO_MACHINE": "test-machine",
        "PYTHONPATH": str(REPO_ROOT),
    }


def _start(argv: list[str], state: Path) -> subprocess.Popen[str]:
    """A harness process in a group of its own, as `scripts/nox -s regenerate` would be."""
    return subprocess.Popen(
        argv,
        cwd=REPO_ROOT,
        env=_environment(state),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _read_until(process: subprocess.Popen[str], wanted: str) -> list[str]:
    seen: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        seen.append(line)
        if wanted in line:
            return seen
    raise AssertionError(f"{wanted!r} never printed:\n{''.join(seen)}")


def _kill_9(process: subprocess.Popen[str]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)


def _next_capture(tmp_path: Path, state: Path) -> str:
    """A capture of no server: what every capture does first, and nothing more."""
    empty = tmp_path / "no-servers"
    empty.mkdir(exist_ok=True)
    capture = _start(
        [
            sys.executable,
            "-m",
            "harness",
            "capture",
            "--quick",
            "--check",
            "concurrency-sync-sleep",
            "--servers-dir",
            str(empty),
            "--data-dir",
            str(tmp_path / "data-next"),
        ],
        state,
    )
    output, _ = capture.communicate(timeout=120)
    assert capture.returncode == 0, output
    return output


def _alive(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running (a zombie has ended)."""
    running = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                running.append(pid)
        except psutil.NoSuchProcess:
            continue
    return running


def test_a_capture_killed_mid_check_leaves_nothing_once_the_next_starts(
    tmp_path: Path, environments_dir: Path
) -> None:
    servers = tmp_path / "servers"
    servers.mkdir()
    (servers / "good.toml").write_text(GOOD_SERVER)
    state = tmp_path / "state"
    capture = _start(
        [
            sys.executable,
            "-m",
            "harness",
            "capture",
            "--quick",
            "--check",
            "concurrency-sync-sleep",
            "--servers-dir",
            str(servers),
            "--data-dir",
            str(tmp_path / "data"),
            "--environments-dir",
            str(environments_dir),
        ],
        state,
    )
    _read_until(capture, "concurrency-sync-sleep")  # the server answers; the check runs
    _kill_9(capture)
    orphans = processes_mentioning(str(environments_dir / "good"))
    assert orphans, "the killed capture's server should have outlived it (nothing to test)"
    assert list((state / "scratch").glob("*.json")), "its scratch folders should be recorded"

    output = _next_capture(tmp_path, state)

    assert not processes_mentioning(str(environments_dir / "good")), output
    assert "ended a process left by a killed capture: server good: pid" in output
    assert any(str(process.pid) in output for process in orphans), output
    assert "removed a left-over scratch folder: " in output
    assert not list((state / "processes").glob("*.json"))
    assert not list(Path(tempfile.gettempdir()).glob("serving-django-good-*"))


def test_postgresql_and_nginx_held_by_a_killed_harness_are_ended_by_the_next_capture(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    holder = _start([sys.executable, "-c", HOLDS_POSTGRES_AND_NGINX], state)
    _, postgres_pid, nginx_pid, scratch = _read_until(holder, "holding")[-1].split()
    _kill_9(holder)
    cluster = [p.pid for p in psutil.Process(int(postgres_pid)).children()]
    nginx = [int(nginx_pid), *(p.pid for p in psutil.Process(int(nginx_pid)).children())]
    assert cluster, "PostgreSQL's own processes should be running"
    assert len(nginx) == 2, "nginx's master and worker should be running"

    output = _next_capture(tmp_path, state)

    assert "PostgreSQL: pid " + postgres_pid in output, output
    assert "nginx: pid " + nginx_pid in output
    assert not _alive([int(postgres_pid), *cluster, *nginx]), output
    assert not Path(scratch).exists()
    assert f"removed a left-over scratch folder: {scratch}" in output
    assert "serving-django-postgres-" in output  # PostgreSQL's cluster folder, removed too


def test_a_detached_server_of_a_killed_harness_is_found_by_its_port(tmp_path: Path) -> None:
    state = tmp_path / "state"
    port = free_port()
    holder = _start(
        [
            sys.executable,
            "-c",
            HOLDS_A_DETACHED_SERVER,
            str(port),
            str(TINY_HTTP),
            str(tmp_path / "server.log"),
        ],
        state,
    )
    _read_until(holder, "holding")
    _kill_9(holder)
    (listener,) = listeners(port)
    assert listener is not None

    output = _next_capture(tmp_path, state)

    assert f"server detaching, detached from its group, listening on {port}: pid {listener}" in (
        output
    )
    assert not listeners(port)
