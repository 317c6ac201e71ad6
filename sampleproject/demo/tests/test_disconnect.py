"""The /disconnect/* views and their lifecycle records: each step, the end, the finally block and
Django's request_finished, under Django's test clients and under its ASGI handler driven the way
a server drives it when the client leaves."""

import asyncio
from types import SimpleNamespace

import pytest

from demo import disconnect_log
from demo.disconnect_log import read_records
from demo.views import disconnect
from sampleproject.asgi import application


def events(request: str) -> list[str]:
    return [record["event"] for record in read_records(request)]


@pytest.mark.parametrize("path", ["/disconnect/sync", "/disconnect/async"])
def test_a_view_left_alone_records_every_step_its_end_and_request_finished(client, state_dir, path):
    response = client.get(path, {"id": "whole", "steps": "3", "interval": "0"})
    assert response.status_code == 200
    assert response.json() == {"id": "whole", "steps": 3, "completed": True}
    assert events("whole") == [
        "started", "step", "step", "step", "completed", "finally", "request_finished"
    ]  # fmt: skip
    assert [record["n"] for record in read_records("whole") if record["event"] == "step"] == [
        1,
        2,
        3,
    ]


@pytest.mark.django_db
def test_the_slow_query_records_each_row_as_sqlite_makes_it(client, state_dir):
    response = client.get("/disconnect/query", {"id": "rows", "steps": "4", "interval": "0"})
    assert response.status_code == 200
    records = read_records("rows")
    assert [record["n"] for record in records if record["event"] == "step"] == [1, 2, 3, 4]
    completed = next(record for record in records if record["event"] == "completed")
    assert completed["rows"] == 4
    assert events("rows")[-2:] == ["finally", "request_finished"]


@pytest.mark.django_db(transaction=True)
async def test_the_slow_query_from_the_async_view(async_client, state_dir):
    response = await async_client.get(
        "/disconnect/query/async", {"id": "async-rows", "steps": "2", "interval": "0"}
    )
    assert response.status_code == 200
    assert events("async-rows") == [
        "started", "step", "step", "completed", "finally", "request_finished"
    ]  # fmt: skip


def test_a_stream_records_its_steps_and_is_closed_by_the_response(client, state_dir):
    response = client.get("/disconnect/stream/sync", {"id": "lines", "steps": "2", "interval": "0"})
    # The test client closes the response once its content is read, as a WSGI server does.
    assert b"".join(response.streaming_content) == b"started\nstep 1\nstep 2\n"
    assert events("lines") == [
        "started", "step", "step", "completed", "finally", "request_finished"
    ]  # fmt: skip


def test_a_sync_stream_closed_early_records_its_cancellation(state_dir):
    lines = disconnect.sync_lines("closed", steps=10, interval=0)
    assert [next(lines), next(lines)] == ["started\n", "step 1\n"]
    lines.close()
    assert events("closed") == ["started", "step", "cancelled", "finally"]
    assert read_records("closed")[2]["how"] == "GeneratorExit"


def test_request_finished_is_recorded_only_for_the_disconnect_views(client, state_dir):
    client.get("/disconnect/sync", {"id": "first", "steps": "1", "interval": "0"})
    client.get("/json/sync", {"id": "not-tracked"})  # same thread: the id must not carry over
    assert events("first")[-1] == "request_finished"
    assert events("first").count("request_finished") == 1
    assert read_records("not-tracked") == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"steps": "0"}, "steps must be between 1 and 600"),
        ({"interval": "5"}, "interval must be between 0.0 and 1.0"),
        ({"id": "no spaces"}, "id must match"),
    ],
)
def test_bad_parameters_are_refused(client, state_dir, query, message):
    response = client.get("/disconnect/sync", query)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_the_slow_query_names_the_database_it_needs(client, state_dir, monkeypatch):
    monkeypatch.setattr(disconnect, "connection", SimpleNamespace(vendor="postgresql"))
    response = client.get("/disconnect/query", {"id": "elsewhere"})
    assert response.status_code == 501
    assert "needs SQLite; the database is postgresql" in response.json()["error"]
    assert events("elsewhere") == ["request_finished"]  # no work started


def asgi_scope(path: str, query: bytes) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def leave_when_started(path: str, request: str) -> list[dict]:
    """Drive the ASGI application as a server does when the client leaves once the work has
    started: ``receive()`` answers ``http.disconnect``."""
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict:
        if requests:
            return requests.pop()
        while "started" not in events(request):
            await asyncio.sleep(0.01)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        pass

    # 600 steps of 0.1 s: only the disconnect can end the work within the timeout.
    query = f"id={request}&steps=600&interval=0.1".encode()
    await asyncio.wait_for(application(asgi_scope(path, query), receive, send), timeout=30)
    return read_records(request)


@pytest.mark.parametrize(
    ("path", "how"),
    [("/disconnect/async", "CancelledError"), ("/disconnect/stream/async", "CancelledError")],
)
async def test_a_disconnect_under_asgi_cancels_async_work_and_ends_the_request(
    state_dir, path, how
):
    records = await leave_when_started(path, "left")
    names = [record["event"] for record in records if record["event"] != "step"]
    assert names == ["started", "cancelled", "finally", "request_finished"]
    assert records[-1]["connection_open"] is False
    assert next(r for r in records if r["event"] == "cancelled")["how"] == how


def test_tracked_request_reads_the_id_from_environ_or_scope():
    environ = {"PATH_INFO": "/app/disconnect/sync", "QUERY_STRING": "steps=2&id=x1"}
    assert disconnect_log.tracked_request(environ, None) == "x1"
    scope = asgi_scope("/disconnect/stream/async", b"id=x2")
    assert disconnect_log.tracked_request(None, scope) == "x2"
    assert (
        disconnect_log.tracked_request({"PATH_INFO": "/sse", "QUERY_STRING": "id=x3"}, None) is None
    )
    assert disconnect_log.tracked_request(None, None) is None
