"""hold_connections against the sample project under Daphne and against synthetic servers."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness.benchmarks.idle import MAX_CONNECTIONS, hold_connections
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
        "sse", base_url + "/sse", 50, open_deadline_s=30, hold_s=0.5, while_held=while_held
    )

    assert (result.opened, result.still_open, result.errors) == (50, 50, {})
    assert observed["sockets"] == 50
    assert observed["memory_pss_bytes"] > 0
    assert result.as_metrics()["connections_opened"] == 50
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
    assert client_sockets_to(port) == []


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
