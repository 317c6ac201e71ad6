"""hold_connections against the sample project under Daphne and against synthetic servers, and
raising the open-files limit it needs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness.benchmarks import idle
from harness.benchmarks.idle import MAX_CONNECTIONS, hold_connections
from harness.benchmarks.open_files import TooFewOpenFiles, ensure_open_files
from harness.benchmarks.resources import tree_memory
from harness.network import HOST, free_port
from harness.process import ServerProcess

APPS = Path(__file__).parents[1] / "apps"
SAMPLEPROJECT = Path(__file__).parents[2] / "sampleproject"
ASGI_APP = "sampleproject.asgi:application"


def client_sockets_to(port: int) -> list:
    """TCP sockets this test process has open to ``port``."""
    return [
        connection
        for connection in psutil.Process().net_connections(kind="tcp")
        if connection.raddr and connection.raddr.port == port
    ]


@pytest.fixture(scope="module")
def daphne(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ServerProcess]]:
    """The sample project under Daphne (HTTP and Channels WebSockets), for the whole module."""
    pytest.importorskip("daphne")
    scratch = tmp_path_factory.mktemp("daphne")
    port = free_port()
    process = ServerProcess(
        [sys.executable, "-m", "daphne", "-b", HOST, "-p", str(port), ASGI_APP],
        cwd=SAMPLEPROJECT,
        env={
            "PATH": os.environ.get("PATH", os.defpath),
            "DJANGO_DEV_MODE": "1",
            "SAMPLEPROJECT_STATE_DIR": str(scratch / "state"),
            "SQLITE_PATH": str(scratch / "db.sqlite3"),
        },
        log_path=scratch / "daphne.log",
        stop_signal="SIGTERM",
    )
    process.start()
    try:
        process.wait_ready(f"http://{HOST}:{port}/json/sync", timeout_s=30)
        yield f"http://{HOST}:{port}", process
    finally:
        process.stop(grace_s=5)


def test_sse_streams_to_the_sample_project_are_opened_held_and_closed(daphne) -> None:
    base_url, server = daphne
    port = int(base_url.rsplit(":", 1)[1])

    def while_held() -> dict:
        return {"sockets": len(client_sockets_to(port)), **tree_memory(server.pid)}

    result, observed = hold_connections(
        "sse",
        base_url + "/sse",
        50,
        open_deadline_s=30,
        hold_s=0.5,
        while_held=while_held,
        fresh_url=base_url + "/json/async",
    )

    assert (result.opened, result.still_open, result.errors) == (50, 50, {})
    assert (result.open_ended, result.open_at_peak, result.dropped_at_s) == ("settled", 50, [])
    assert observed["sockets"] == 50  # the fresh request's is closed already
    assert observed["memory_pss_bytes"] > 0
    metrics = result.as_metrics()
    assert metrics["connections_opened"] == 50
    assert metrics["fresh_requests_answered"] == 1
    assert metrics["fresh_request_ms"] > 0
    assert "connection_limit" not in metrics
    assert client_sockets_to(port) == []


def test_websockets_to_the_sample_project_echo_and_stay_open(daphne) -> None:
    base_url, _ = daphne
    port = int(base_url.rsplit(":", 1)[1])
    url = base_url.replace("http://", "ws://") + "/ws/echo"

    result, observed = hold_connections(
        "websocket", url, 20, open_deadline_s=30, hold_s=0.5, while_held=lambda: {"held": 1}
    )

    assert (result.kind, result.opened, result.still_open, result.errors) == (
        "websocket",
        20,
        20,
        {},
    )
    assert observed == {"held": 1}
    assert client_sockets_to(port) == []


def test_a_server_serving_one_stream_at_a_time_opens_one_and_the_rest_time_out(
    script_server,
) -> None:
    base_url, _ = script_server(APPS / "sse_one_at_a_time.py")
    port = int(base_url.rsplit(":", 1)[1])

    result, _ = hold_connections("sse", base_url + "/sse", 10, open_deadline_s=2, hold_s=0)

    assert (result.opened, result.still_open, result.errors) == (1, 1, {"timeout": 9})
    assert result.open_ended == "deadline"
    assert result.as_metrics()["opens_pending_at_deadline"] == 9
    assert client_sockets_to(port) == []


def test_a_server_that_takes_no_more_stalls_the_opening_at_its_limit_and_serves_nobody_else(
    script_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idle, "FRESH_TIMEOUT_S", 1.0)
    base_url, _ = script_server(APPS / "sse_one_at_a_time.py")

    result, _ = hold_connections(
        "sse",
        base_url + "/sse",
        10,
        open_deadline_s=600,
        hold_s=0,
        stall_s=0.5,
        fresh_url=base_url + "/json/sync",
    )

    assert (result.opened, result.errors, result.open_ended) == (1, {"timeout": 9}, "stalled")
    metrics = result.as_metrics()
    assert metrics["connection_limit"] == 1
    assert "opens_pending_at_deadline" not in metrics
    assert result.fresh == {"status": None, "error": "timeout"}
    assert metrics["fresh_requests_answered"] == 0
    assert "fresh_request_ms" not in metrics


def test_streams_the_server_ends_during_the_hold_are_dropped_with_their_time(
    script_server,
) -> None:
    base_url, _ = script_server(APPS / "stream_app.py")

    # The URL's own count and interval come first: two events, then the server closes.
    result, _ = hold_connections(
        "sse", base_url + "/closes/sse?count=2&interval=0.2", 5, open_deadline_s=10, hold_s=2
    )

    assert (result.opened, result.still_open) == (5, 0)
    assert len(result.dropped_at_s) == 5
    assert all(0 <= at <= 2 for at in result.dropped_at_s)
    assert result.as_metrics()["connections_dropped"] == 5
    assert result.details()["dropped_at_s"] == sorted(result.details()["dropped_at_s"])


def test_streams_the_server_closed_during_the_hold_are_not_still_open(script_server) -> None:
    base_url, server = script_server(APPS / "stream_app.py")

    def kill_server() -> dict:
        server.kill()
        return {}

    result, _ = hold_connections(
        "sse", base_url + "/live/sse", 5, open_deadline_s=10, hold_s=0, while_held=kill_server
    )

    assert (result.opened, result.still_open) == (5, 0)


def test_error_answers_are_counted_by_status(script_server) -> None:
    base_url, _ = script_server(APPS / "stream_app.py")

    result, _ = hold_connections("sse", base_url + "/broken/sse", 5, open_deadline_s=10, hold_s=0)

    assert (result.opened, result.errors) == (0, {"status 500": 5})


def test_refused_websocket_handshakes_are_counted_by_status(script_server) -> None:
    base_url, _ = script_server(APPS / "ws_echo.py", "refuse")
    url = base_url.replace("http://", "ws://") + "/ws/echo"

    result, _ = hold_connections("websocket", url, 3, open_deadline_s=10, hold_s=0)

    assert (result.opened, result.errors) == (0, {"status 404": 3})


def test_a_port_nobody_listens_on_counts_refusals() -> None:
    port = free_port()

    result, _ = hold_connections("sse", f"http://{HOST}:{port}/sse", 5, 10, hold_s=0)

    assert (result.opened, result.still_open, result.errors) == (0, 0, {"refused": 5})


def test_more_connections_than_one_process_can_hold_are_refused_up_front() -> None:
    with pytest.raises(ValueError, match="20000 open files"):
        hold_connections("sse", f"http://{HOST}:1/sse", MAX_CONNECTIONS + 1, 1, 0)


def test_the_open_files_limit_is_raised_to_what_is_needed_and_never_lowered() -> None:
    # In a child process, so this one keeps its limits: a soft limit of 1024 (a common
    # default) is raised to 2000, within the hard limit.
    code = (
        "import resource\n"
        "from harness.benchmarks.open_files import ensure_open_files\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))\n"
        "print(ensure_open_files(2000), ensure_open_files(1500))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
        check=True,
    )
    assert completed.stdout.split() == ["2000", "2000"]


def test_more_open_files_than_the_hard_limit_allows_is_the_machines_fault() -> None:
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard limit on open files here")
    with pytest.raises(TooFewOpenFiles, match=f"hard limit is {hard}"):
        ensure_open_files(hard + 1)
