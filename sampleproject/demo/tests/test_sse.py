"""Server-sent events: framing, finite and endless streams, and their lifecycle records, from
the async generator (/sse) and the sync one (/sse/sync)."""

import asyncio
import json
import threading
import time
import warnings
from collections.abc import Iterator
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
from django.core.handlers.wsgi import WSGIHandler

from demo.sse_log import read_events
from demo.views.sse import sse_events
from sampleproject.asgi import application

SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


def frames(body: bytes) -> list[tuple[int, dict]]:
    """(id, data) of each event; fails on anything but ``id: N\\ndata: {json}\\n\\n`` framing."""
    text = body.decode()
    assert text.endswith("\n\n")
    parsed = []
    for frame in text[: -len("\n\n")].split("\n\n"):
        id_line, data_line = frame.split("\n")
        assert id_line.startswith("id: ")
        assert data_line.startswith("data: ")
        parsed.append((int(id_line[len("id: ") :]), json.loads(data_line[len("data: ") :])))
    return parsed


def event_names(stream: str) -> list[str]:
    return [record["event"] for record in read_events(stream)]


def assert_finite_stream(response, body: bytes, stream: str, count: int) -> None:
    assert response.status_code == 200
    assert response.streaming is True
    assert {name: response[name] for name in SSE_HEADERS} == SSE_HEADERS
    events = frames(body)
    assert [event_id for event_id, _ in events] == list(range(1, count + 1))
    assert [data["n"] for _, data in events] == list(range(1, count + 1))
    assert {data["stream"] for _, data in events} == {stream}
    assert event_names(stream) == ["started", "finished"]
    assert read_events(stream)[-1]["sent"] == count


async def test_finite_stream_is_framed_and_recorded_as_finished(async_client, state_dir):
    response = await async_client.get("/sse", {"count": "3", "interval": "0", "id": "finite"})
    body = b"".join([part async for part in response])
    assert_finite_stream(response, body, "finite", 3)


def test_finite_stream_under_sync_client_is_buffered_but_complete(client, state_dir):
    response = client.get("/sse", {"count": "2", "interval": "0.01", "id": "wsgi"})
    with pytest.warns(Warning, match="must consume asynchronous iterators"):
        body = b"".join(response)
    assert_finite_stream(response, body, "wsgi", 2)


def test_sync_stream_under_sync_client_is_framed_and_not_buffered(client, state_dir):
    response = client.get("/sse/sync", {"count": "3", "interval": "0", "id": "sync-finite"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Django warns when it must buffer a stream
        body = b"".join(response)
    assert_finite_stream(response, body, "sync-finite", 3)


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test output is not the place for an access log."""


@pytest.fixture
def wsgi_server(state_dir) -> Iterator[str]:
    """The project's WSGI application on a real threaded WSGI server (wsgiref) on 127.0.0.1,
    a thread per request as a thread-pool WSGI server runs it."""
    server = make_server(
        "127.0.0.1", 0, WSGIHandler(), server_class=ThreadingWSGIServer, handler_class=QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_sync_stream_reaches_a_client_of_a_real_wsgi_server_as_it_is_made(wsgi_server):
    """Each event was made after the client had read the one before: nothing is buffered.
    When the client leaves, the server's failed write closes the generator."""
    query = {"count": "0", "interval": "0.05", "id": "over-wsgi"}
    events, read_at = [], []
    with (
        httpx.Client(timeout=30) as client,
        client.stream("GET", f"{wsgi_server}/sse/sync", params=query) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: ") :]))
                read_at.append(time.time())
            if len(events) == 4:
                break
    assert [event["n"] for event in events] == [1, 2, 3, 4]
    assert all(made.get("at") > read for made, read in zip(events[1:], read_at, strict=False))
    deadline = time.monotonic() + 30
    while "cancelled" not in event_names("over-wsgi") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert event_names("over-wsgi") == ["started", "cancelled"]
    assert read_events("over-wsgi")[-1]["sent"] >= 4


async def test_stream_without_id_gets_a_generated_one(async_client, state_dir):
    response = await async_client.get("/sse", {"count": "1", "interval": "0"})
    [(_, data)] = frames(b"".join([part async for part in response]))
    assert len(data["stream"]) == 32
    assert event_names(data["stream"]) == ["started", "finished"]


async def test_endless_stream_closed_by_its_consumer_is_recorded_as_cancelled(state_dir):
    events = sse_events("closed", count=0, interval=0)
    received = [await anext(events) for _ in range(25)]
    await events.aclose()
    assert frames("".join(received).encode())[-1][0] == 25
    assert event_names("closed") == ["started", "cancelled"]
    assert read_events("closed")[-1]["sent"] == 25


async def test_client_disconnect_under_asgi_cancels_the_stream(state_dir):
    """Drives the project's ASGI application the way a server does when the client leaves."""
    first_event_sent = asyncio.Event()
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict:
        if requests:
            return requests.pop()
        await first_event_sent.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            first_event_sent.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/sse",
        "raw_path": b"/sse",
        "root_path": "",
        # The interval is long so that only the disconnect can end the stream in time.
        "query_string": b"count=0&interval=60&id=disconnected",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    await asyncio.wait_for(application(scope, receive, send), timeout=30)
    assert event_names("disconnected") == ["started", "cancelled"]
    assert read_events("disconnected")[-1]["sent"] == 1


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("/sse/page", "/sse"),
        ("/sse/page?count=3&interval=0.2", "/sse"),
        ("/sse/page?idiom=async", "/sse"),
        ("/sse/page?idiom=sync&count=3", "/sse/sync"),
    ],
)
def test_sse_page_listens_with_an_inline_event_source(client, path, source):
    response = client.get(path)
    assert response.status_code == 200
    html = response.text
    assert 'id="status"' in html
    assert f'id="events" data-source="{source}"' in html
    assert "new EventSource(" in html
    assert "<script src" not in html


def test_sse_page_refuses_an_unknown_idiom(client):
    response = client.get("/sse/page", {"idiom": "threads"})
    assert response.status_code == 400
    assert "idiom must be one of ['async', 'sync']" in response.json()["error"]


async def test_sse_page_with_async_client(async_client):
    response = await async_client.get("/sse/page")
    assert response.status_code == 200
    assert "new EventSource(" in response.text
