"""The runner starts servers in their own process group, detects failures, and ends them all."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from harness.network import free_port
from harness.process import ServerProcess, StartError, end_all, listeners, wait_ended
from tests.conftest import TINY_HTTP, processes_mentioning


def _process(tmp_path: Path, code: str, stop_signal: str = "SIGTERM") -> ServerProcess:
    marker = tmp_path / "marker"
    return ServerProcess(
        [sys.executable, "-c", code, str(marker)],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        log_path=tmp_path / "server.log",
        stop_signal=stop_signal,
    )


def test_a_server_that_exits_at_start_is_reported_with_its_log(tmp_path: Path) -> None:
    process = _process(tmp_path, "import sys; print('cannot bind: boom'); sys.exit(3)")
    process.start()
    with pytest.raises(StartError) as failure:
        process.wait_ready(f"http://127.0.0.1:{free_port()}/", timeout_s=20)
    assert "exited with code 3" in failure.value.reason
    assert "cannot bind: boom" in failure.value.log_tail
    process.stop()


def test_a_missing_executable_is_a_start_error(tmp_path: Path) -> None:
    process = ServerProcess(
        ["/nonexistent/server-binary"],
        cwd=tmp_path,
        env={},
        log_path=tmp_path / "log",
        stop_signal="SIGTERM",
    )
    with pytest.raises(StartError, match="cannot execute"):
        process.start()


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    process = _process(tmp_path, "import time; print('starting', flush=True); time.sleep(60)")
    process.start()
    with pytest.raises(StartError) as failure:
        process.wait_ready(f"http://127.0.0.1:{free_port()}/", timeout_s=1.5)
    assert "not ready within" in failure.value.reason
    assert "starting" in failure.value.log_tail
    process.stop(grace_s=1)
    assert not processes_mentioning(str(tmp_path / "marker"))


def test_a_server_ignoring_its_stop_signal_is_killed_with_its_children(tmp_path: Path) -> None:
    # The parent ignores SIGTERM and forks a child that starts its own session (escaping the
    # process group), like a daemonising worker would.
    code = (
        "import os, signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)', sys.argv[1]],"
        " start_new_session=True)\n"
        "time.sleep(120)\n"
    )
    process = _process(tmp_path, code)
    process.start()
    marker = str(tmp_path / "marker")
    deadline = time.monotonic() + 10
    while len(processes_mentioning(marker)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.remember_descendants()
    shutdown = process.stop(grace_s=1)
    assert shutdown.forced
    assert shutdown.exit_code == -9
    psutil.wait_procs(processes_mentioning(marker), timeout=5)
    assert not processes_mentioning(marker)


def test_end_all_kills_every_running_server(tmp_path: Path) -> None:
    process = _process(tmp_path, "import time; time.sleep(120)")
    process.start()
    end_all(refuse_new=False)  # this test process goes on starting servers
    assert process.exit_code() is not None
    assert not processes_mentioning(str(tmp_path / "marker"))


def test_ready_time_lasts_until_the_first_answer_arrived(tmp_path: Path) -> None:
    # tiny_http's slow-to-load mode accepts the connection at once and answers 1 s later.
    process = ServerProcess(
        [sys.executable, str(TINY_HTTP), str(port := free_port()), "slow-to-load"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        log_path=tmp_path / "server.log",
        stop_signal="SIGTERM",
    )
    process.start()
    try:
        ready_after_s = process.wait_ready(f"http://127.0.0.1:{port}/json/sync", timeout_s=20)
    finally:
        process.stop(grace_s=5)
    assert ready_after_s >= 1.0


def test_a_zombie_counts_as_ended_without_waiting_for_its_reaping() -> None:
    # A killed server's workers are orphans that init reaps when it gets to it; their end
    # is their exit. This test's own child stays a zombie until the test reaps it.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        process = psutil.Process(child.pid)
        assert wait_ended([process], timeout_s=0.2) == [process]
        child.kill()
        deadline = time.monotonic() + 10
        while process.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.01)
        assert wait_ended([process], timeout_s=5) == []
        assert process.status() == psutil.STATUS_ZOMBIE  # ended, yet not reaped by the wait
    finally:
        child.kill()
        child.wait()


def test_ready_time_is_measured_against_a_real_server(tiny_server) -> None:
    base_url, process = tiny_server("threaded")
    assert base_url.startswith("http://127.0.0.1:")
    assert process.exit_code() is None
    shutdown = process.stop(grace_s=5)
    assert not shutdown.forced
    assert shutdown.exited_after_s is not None


@pytest.fixture
def foreign_listener():
    """An HTTP server answering 200 on a port, run by a process that no server under test
    started: this test process."""
    import http.server
    import threading

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_foreign_listener_on_the_port_is_a_start_failure_not_a_ready_server(
    tmp_path: Path, foreign_listener: int
) -> None:
    """A server that never bound its port, while another process answers 200 there: before,
    this was recorded as ready and the checks measured the other process."""
    process = _process(tmp_path, "import time; time.sleep(60)")
    process.start()
    try:
        with pytest.raises(StartError) as failure:
            process.wait_ready(f"http://127.0.0.1:{foreign_listener}/", timeout_s=10)
        reason = failure.value.reason
        assert f"port {foreign_listener} is also listened on by pid {os.getpid()}" in reason
        assert "port clash" in reason
    finally:
        process.stop(grace_s=1)


def test_a_second_listener_sharing_the_port_is_a_start_failure(tmp_path: Path) -> None:
    """Our server listens (with SO_REUSEPORT, as Granian binds), but so does another process:
    answers may come from either, so the start is refused; alone on its port, it is ours."""
    import socket

    other = socket.socket()
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    other.bind(("127.0.0.1", 0))
    other.listen()
    port = other.getsockname()[1]
    code = (
        "import socket, time\n"
        "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)\n"
        f"s.bind(('127.0.0.1', {port})); s.listen(); print('bound', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = _process(tmp_path, code)
    process.start()
    try:
        deadline = time.monotonic() + 20
        while "bound" not in (tmp_path / "server.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(StartError, match=f"pid {os.getpid()} .*port clash"):
            process.check_port_is_ours(port)
        other.close()
        process.check_port_is_ours(port)  # alone on the port: ours
    finally:
        other.close()
        process.stop(grace_s=1)


def test_free_port_never_hands_out_a_port_twice() -> None:
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        ports = list(pool.map(lambda _: free_port(), range(3000)))
    assert len(set(ports)) == len(ports)


def test_a_listener_on_another_address_is_no_clash(tmp_path: Path) -> None:
    """A socket on ::1 with the same port number cannot answer a client of 127.0.0.1."""
    import socket

    other = socket.socket(socket.AF_INET6)
    try:
        other.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    other.listen()
    port = other.getsockname()[1]
    process = _process(tmp_path, "import time; time.sleep(60)")
    process.start()
    try:
        process.check_port_is_ours(port, "127.0.0.1")
        with pytest.raises(StartError, match="port clash"):
            process.check_port_is_ours(port, "::1")
    finally:
        other.close()
        process.stop(grace_s=1)


@pytest.mark.parametrize(
    "wrapper",
    [
        pytest.param(["setsid", "-f"], id="keeping-its-environment"),
        # A daemon that also drops the environment (so the harness's marker) is found only by
        # the port it listens on.
        pytest.param(["env", "-u", "SERVING_DJANGO_OWNER", "setsid", "-f"], id="by-its-port"),
    ],
)
def test_a_server_that_detaches_is_reported_as_detached_and_ended(
    tmp_path: Path, wrapper: list[str]
) -> None:
    port = free_port()
    process = ServerProcess(
        [*wrapper, sys.executable, str(TINY_HTTP), str(port), "normal"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        log_path=tmp_path / "server.log",
        stop_signal="SIGTERM",
        port=port,
    )
    process.start()
    with pytest.raises(StartError) as failure:
        process.wait_ready(f"http://127.0.0.1:{port}/json/sync", timeout_s=20)
    process.stop(grace_s=1)
    reason = failure.value.reason
    assert "detached" in reason
    assert "before answering" not in reason
    assert str(TINY_HTTP) in reason  # names what it ended
    if "env" in wrapper:
        assert f"listening on port {port}" in reason
    assert not [p for p in processes_mentioning(str(TINY_HTTP)) if str(port) in p.cmdline()]
    assert not listeners(port)
