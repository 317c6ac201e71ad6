"""The streaming views stream: chunks are produced as they are consumed, not all up front.

Each chunk carries the time.monotonic() at which the view produced it. Reading the first chunk
and then noting the time tells whether the next chunk was produced after that (streamed) or
before (buffered), without any timing threshold.

When the iterator does not match the handler (async generator under the sync Client, sync
generator under the AsyncClient), Django buffers the whole stream and warns; the servers do
the same, which is what the harness looks for in their logs.
"""

import re
import time

import pytest

CHUNK = re.compile(r"chunk (\d+) at (\d+\.\d+)\n")
SYNC_UNDER_ASYNC = "must consume synchronous iterators"
ASYNC_UNDER_SYNC = "must consume asynchronous iterators"


def parsed(part: bytes) -> tuple[int, float]:
    """Chunk number and production time of one streamed part."""
    match = CHUNK.fullmatch(part.decode())
    assert match, part
    return int(match[1]), float(match[2])


def assert_streaming_plain_text(response) -> None:
    assert response.status_code == 200
    assert response.streaming is True
    assert response["Content-Type"] == "text/plain; charset=utf-8"


def test_sync_stream_is_produced_as_the_client_reads(client):
    response = client.get("/stream/sync", {"chunks": "4", "delay": "0.05"})
    assert_streaming_plain_text(response)
    parts = iter(response)
    first = next(parts)
    first_read_at = time.monotonic()
    rest = list(parts)
    assert [parsed(part)[0] for part in [first, *rest]] == [1, 2, 3, 4]
    assert parsed(rest[0])[1] > first_read_at


async def test_async_stream_is_produced_as_the_client_reads(async_client):
    response = await async_client.get("/stream/async", {"chunks": "4", "delay": "0.05"})
    assert_streaming_plain_text(response)
    parts = aiter(response)
    first = await anext(parts)
    first_read_at = time.monotonic()
    rest = [part async for part in parts]
    assert [parsed(part)[0] for part in [first, *rest]] == [1, 2, 3, 4]
    assert parsed(rest[0])[1] > first_read_at


def test_async_stream_under_sync_client_is_buffered_with_a_warning(client):
    response = client.get("/stream/async", {"chunks": "3", "delay": "0.01"})
    assert_streaming_plain_text(response)
    with pytest.warns(Warning, match=ASYNC_UNDER_SYNC):
        parts = iter(response)
    first_read_at = time.monotonic()
    numbers_and_times = [parsed(part) for part in parts]
    assert [number for number, _ in numbers_and_times] == [1, 2, 3]
    assert all(produced < first_read_at for _, produced in numbers_and_times)


async def test_sync_stream_under_async_client_is_buffered_with_a_warning(async_client):
    response = await async_client.get("/stream/sync", {"chunks": "3", "delay": "0.01"})
    assert_streaming_plain_text(response)
    parts = aiter(response)
    with pytest.warns(Warning, match=SYNC_UNDER_ASYNC):
        first = await anext(parts)
    first_read_at = time.monotonic()
    rest = [part async for part in parts]
    assert [parsed(part)[0] for part in [first, *rest]] == [1, 2, 3]
    assert parsed(rest[0])[1] < first_read_at


def test_the_largest_stream_has_every_chunk_with_client(client):
    response = client.get("/stream/sync", {"chunks": "1000", "delay": "0"})
    assert [parsed(part)[0] for part in response] == list(range(1, 1001))


async def test_the_largest_stream_has_every_chunk_with_async_client(async_client):
    response = await async_client.get("/stream/async", {"chunks": "1000", "delay": "0"})
    assert [parsed(part)[0] async for part in response] == list(range(1, 1001))
