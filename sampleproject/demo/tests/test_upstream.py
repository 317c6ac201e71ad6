"""The slow upstream API and the three ways of calling it three times.

A real HTTP server on 127.0.0.1 stands in for the upstream. It notes when each request started
and when its answer was ready; whether the three calls overlapped is read from those notes,
never from how long a view took. It keeps connections alive and notes the client's port of
each call, so a client reused across requests shows as a connection reused across them.
"""

import asyncio
import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from urllib.parse import parse_qs, urlsplit

import pytest

from demo.upstream import UPSTREAM_DELAYS_MS, shared_async_client
from demo.views.upstream import COUNTRIES

AGGREGATIONS = [
    ("/upstream/sequential", "sequential"),
    ("/upstream/threadpool", "threadpool"),
    ("/upstream/async", "async"),
]
EXPECTED_COUNTRIES = [f"Country-{delay_ms}" for delay_ms in UPSTREAM_DELAYS_MS]


@dataclass(frozen=True)
class Call:
    delay_ms: int
    started: float
    answered: float
    client_port: int


class FakeUpstream:
    """Answers like upstream_api, or fails the way ``failure`` says."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.failure: str | None = None
        self.lock = threading.Lock()

    def answer(self, path: str, client_port: int) -> tuple[int, bytes]:
        started = time.monotonic()
        delay_ms = int(parse_qs(urlsplit(path).query)["delay_ms"][0])
        if self.failure is None:
            time.sleep(delay_ms / 1000)
        # Noted before the answer is written, so a caller cannot start its next call earlier.
        with self.lock:
            self.calls.append(Call(delay_ms, started, time.monotonic(), client_port))
        if self.failure == "status":
            return 500, b'{"error": "upstream broke"}'
        if self.failure == "not json":
            return 200, b"<html>maintenance</html>"
        return 200, json.dumps({"country": f"Country-{delay_ms}", "delay_ms": delay_ms}).encode()


@pytest.fixture
def upstream(settings):
    fake = FakeUpstream()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real APIs answer

        def do_GET(self) -> None:
            status, body = fake.answer(self.path, self.client_address[1])
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test output is not the place for an access log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A short poll interval keeps shutdown() (once per test) quick.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    settings.UPSTREAM_BASE_URL = f"http://127.0.0.1:{server.server_port}/"
    yield fake
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def unreachable_upstream(settings):
    """A port on which nothing listens: bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.UPSTREAM_BASE_URL = f"http://127.0.0.1:{port}"


def all_overlapped(calls: list[Call]) -> bool:
    """Some moment lies inside every call."""
    return max(call.started for call in calls) < min(call.answered for call in calls)


def one_after_another(calls: list[Call]) -> bool:
    """Each call started after the previous one was answered."""
    ordered = sorted(calls, key=lambda call: call.started)
    return all(later.started > earlier.answered for earlier, later in pairwise(ordered))


def assert_aggregated(response, mode: str, upstream: FakeUpstream) -> None:
    assert response.status_code == 200
    payload = response.json()
    assert payload["mode"] == mode
    assert payload["countries"] == EXPECTED_COUNTRIES
    assert payload["delays_ms"] == list(UPSTREAM_DELAYS_MS)
    assert payload["elapsed_ms"] > 0
    assert sorted(call.delay_ms for call in upstream.calls) == sorted(UPSTREAM_DELAYS_MS)
    if mode == "sequential":
        assert one_after_another(upstream.calls)
        assert not all_overlapped(upstream.calls)
    else:
        assert all_overlapped(upstream.calls)
        assert not one_after_another(upstream.calls)


@pytest.mark.parametrize(("path", "mode"), AGGREGATIONS)
def test_aggregation_calls_the_upstream_three_times_with_client(client, upstream, path, mode):
    assert_aggregated(client.get(path), mode, upstream)


@pytest.mark.parametrize(("path", "mode"), AGGREGATIONS)
async def test_aggregation_calls_the_upstream_three_times_with_async_client(
    async_client, upstream, path, mode
):
    assert_aggregated(await async_client.get(path), mode, upstream)


@pytest.mark.parametrize(("path", "mode"), AGGREGATIONS)
def test_unreachable_upstream_is_a_502_with_the_error(client, unreachable_upstream, path, mode):
    response = client.get(path)
    assert response.status_code == 502
    assert response.json()["mode"] == mode
    assert "ConnectError" in response.json()["error"]


@pytest.mark.parametrize(("path", "mode"), AGGREGATIONS)
@pytest.mark.parametrize(
    ("failure", "error_name"), [("status", "HTTPStatusError"), ("not json", "JSONDecodeError")]
)
async def test_failing_upstream_is_a_502_with_the_error(
    async_client, upstream, path, mode, failure, error_name
):
    upstream.failure = failure
    response = await async_client.get(path)
    assert response.status_code == 502
    assert error_name in response.json()["error"]


def ports_of(calls: list[Call]) -> set[int]:
    return {call.client_port for call in calls}


SYNC_AGGREGATIONS = [(path, mode) for path, mode in AGGREGATIONS if mode != "async"]


@pytest.mark.parametrize("path", [path for path, _ in SYNC_AGGREGATIONS])
@pytest.mark.parametrize(("choice", "reused"), [("shared", True), ("per-request", False)])
def test_only_the_shared_client_carries_connections_from_one_request_to_the_next(
    client, settings, upstream, path, choice, reused
):
    settings.UPSTREAM_CLIENT = choice
    assert_aggregated(client.get(path), dict(AGGREGATIONS)[path], upstream)
    first = ports_of(upstream.calls)
    upstream.calls.clear()
    assert_aggregated(client.get(path), dict(AGGREGATIONS)[path], upstream)
    second = ports_of(upstream.calls)
    assert bool(first & second) is reused


@pytest.mark.parametrize(("choice", "reused"), [("shared", True), ("per-request", False)])
async def test_the_shared_async_client_is_reused_on_its_event_loop(
    async_client, settings, upstream, choice, reused
):
    settings.UPSTREAM_CLIENT = choice
    assert_aggregated(await async_client.get("/upstream/async"), "async", upstream)
    first = ports_of(upstream.calls)
    upstream.calls.clear()
    assert_aggregated(await async_client.get("/upstream/async"), "async", upstream)
    assert bool(first & ports_of(upstream.calls)) is reused


async def test_each_event_loop_gets_its_own_shared_async_client(settings):
    settings.UPSTREAM_CLIENT = "shared"
    here = shared_async_client()
    assert shared_async_client() is here
    elsewhere = await asyncio.to_thread(asyncio.run, made_on_a_new_loop())
    assert elsewhere is not here


async def made_on_a_new_loop():
    return shared_async_client()


def test_upstream_api_answers_a_country_after_the_delay_with_client(client):
    response = client.get("/upstream/api", {"delay_ms": "1"})
    assert response.status_code == 200
    assert response.json()["delay_ms"] == 1
    assert response.json()["country"] in COUNTRIES


async def test_upstream_api_answers_a_country_after_the_delay_with_async_client(async_client):
    response = await async_client.get("/upstream/api", {"delay_ms": "0"})
    assert response.status_code == 200
    assert response.json()["delay_ms"] == 0
    assert response.json()["country"] in COUNTRIES
