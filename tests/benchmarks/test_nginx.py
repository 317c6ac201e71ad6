"""nginx as a TLS + HTTP/2 proxy and as a `return 200` target, started for real."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psutil
import pytest
from websockets.asyncio.client import connect

from harness.benchmarks import nginx
from harness.benchmarks.nginx import NginxUnavailable, nginx_version, running_nginx
from harness.network import HOST, TLSMaterial, make_tls_material
from harness.process import StartError

APPS = Path(__file__).parents[1] / "apps"

pytestmark = pytest.mark.skipif(nginx.find_nginx() is None, reason="nginx is not installed")


@pytest.fixture
def tls(tmp_path: Path) -> TLSMaterial:
    return make_tls_material(tmp_path / "tls")


@pytest.fixture
def header_echo() -> Iterator[tuple[int, list[int]]]:
    """An in-process HTTP/1.1 server answering the request headers it got as JSON; yields its
    port and the client ports it saw (one per upstream connection nginx opened)."""
    client_ports: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            client_ports.append(self.client_address[1])
            body = json.dumps(dict(self.headers)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], client_ports
    server.shutdown()
    server.server_close()
    thread.join()


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_nginx_version_is_read_from_the_binary() -> None:
    version = nginx_version()

    assert version is not None
    assert version.split(".")[0].isdigit()


def test_return_200_mode_answers_ok_over_http11(tmp_path: Path) -> None:
    with running_nginx(tmp_path / "nginx", upstream_port=None, tls=None, http2=False) as server:
        response = httpx.get(server.base_url + "/anything")

    assert (response.status_code, response.text, response.http_version) == (
        200,
        "ok\n",
        "HTTP/1.1",
    )
    assert server.version == nginx_version()
    assert server.base_url == f"http://{HOST}:{server.port}"


def test_cleartext_http2_mode_speaks_h2c_with_prior_knowledge(tmp_path: Path) -> None:
    with (
        running_nginx(tmp_path / "nginx", upstream_port=None, tls=None, http2=True) as server,
        httpx.Client(http1=False, http2=True) as client,
    ):
        response = client.get(server.base_url + "/")

    assert (response.status_code, response.http_version) == (200, "HTTP/2")


def test_tls_http2_proxy_forwards_with_headers_over_reused_upstream_connections(
    tmp_path: Path, tls: TLSMaterial, header_echo
) -> None:
    upstream_port, client_ports = header_echo

    with (
        running_nginx(
            tmp_path / "nginx", upstream_port=upstream_port, tls=tls, http2=True
        ) as server,
        httpx.Client(verify=tls.client_context(), http2=True) as client,
    ):
        responses = [client.get(f"{server.base_url}/page/{n}") for n in range(20)]

    assert server.base_url.startswith("https://")
    assert {(r.status_code, r.http_version) for r in responses} == {(200, "HTTP/2")}
    headers = responses[0].json()
    assert headers["X-Forwarded-Proto"] == "https"
    assert headers["X-Forwarded-For"] == HOST
    # nginx's default would send `Connection: close`; an empty value is not sent at all.
    assert "Connection" not in headers
    # Upstream keep-alive: far fewer connections to the server than requests.
    assert len(client_ports) == 20
    assert len(set(client_ports)) < 20


def test_websockets_pass_through_the_tls_proxy(tmp_path: Path, tls: TLSMaterial, script_server):
    base_url, _ = script_server(APPS / "ws_echo.py", "echo")
    upstream_port = int(base_url.rsplit(":", 1)[1])

    async def echo(url: str) -> str:
        async with connect(url, ssl=tls.client_context()) as websocket:
            await websocket.send("through nginx")
            return await websocket.recv()

    with running_nginx(
        tmp_path / "nginx", upstream_port=upstream_port, tls=tls, http2=True
    ) as server:
        answer = asyncio.run(echo(server.base_url.replace("https://", "wss://") + "/ws"))

    assert answer == "through nginx"


def test_a_config_nginx_rejects_raises_with_its_output(tmp_path: Path, tls: TLSMaterial) -> None:
    missing = TLSMaterial(tmp_path / "no-such-cert.pem", tls.keyfile, tls.ca_file)

    with (
        pytest.raises(NginxUnavailable) as raised,
        running_nginx(tmp_path / "nginx", upstream_port=None, tls=missing, http2=True),
    ):
        pytest.fail("nginx started with a certificate that does not exist")

    message = str(raised.value)
    assert "nginx rejected" in message
    assert "no-such-cert.pem" in message
    assert not (tmp_path / "nginx" / "nginx.pid").exists()


def test_missing_nginx_says_what_to_install(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(nginx, "find_nginx", lambda: None)

    with (
        pytest.raises(NginxUnavailable, match="apt-get install"),
        running_nginx(tmp_path / "nginx", upstream_port=None, tls=None, http2=False),
    ):
        pytest.fail("started without nginx")
    assert nginx_version() is None


@pytest.mark.skipif(not {0, 1} <= os.sched_getaffinity(0), reason="needs CPUs 0 and 1")
def test_nginx_runs_under_the_prefix_and_leaves_no_process_even_when_the_block_raises(
    tmp_path: Path,
) -> None:
    taskset = ["taskset", "-c", "1"]
    with (
        pytest.raises(RuntimeError, match="benchmark failed"),
        running_nginx(
            tmp_path / "nginx", upstream_port=None, tls=None, http2=False, prefix=taskset
        ) as server,
    ):
        master = psutil.Process(server.process.pid)
        tree = [master, *master.children(recursive=True)]
        affinities = [process.cpu_affinity() for process in tree]
        raise RuntimeError("benchmark failed")

    assert len(tree) == 2  # master and one worker
    assert affinities == [[1], [1]]
    assert [process.pid for process in tree if alive(process.pid)] == []


def test_a_taken_port_is_reported_with_nginx_s_bind_error(tmp_path: Path, monkeypatch) -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        monkeypatch.setattr(nginx, "free_port", lambda: taken.getsockname()[1])
        with (
            pytest.raises(StartError) as failure,
            running_nginx(tmp_path / "nginx", upstream_port=None, tls=None, http2=False),
        ):
            pytest.fail("nginx started on a taken port")
    assert "exited with code 1 before answering" in failure.value.reason
    assert "bind()" in failure.value.reason
    assert "Address already in use" in failure.value.reason
