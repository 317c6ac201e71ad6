"""A raw HTTP/1.1 server whose answers can be chosen (synthetic; not a measured server).

    python status_line_server.py PORT MODE

It writes its status lines by hand, so it can send what ordinary servers do not: the point is
to see how a load tool counts each case. MODE decides how every path except ``/json/sync``
(always a plain ``200 OK``, so the harness can tell it is ready) is answered:

``ok``        ``HTTP/1.1 200 OK``
``noreason``  ``HTTP/1.1 200 `` (no reason phrase, as hypercorn sends it)
``500``       ``HTTP/1.1 500 Internal Server Error``
``close``     the connection is closed without an answer
``slow``      ``200 OK`` after 50 ms
``stall``     ``200 OK`` for 0.2 s after the first such request, then never an answer again
``oneshot``   ``200 OK`` with ``Connection: close``, then the connection is closed (like
              Gunicorn's sync worker)
``serial``    ``200 OK`` after 50 ms, one request at a time over all connections (a server
              with one worker and no concurrency: 20 answers a second at most)
"""

import asyncio
import sys
import time

PORT, MODE = int(sys.argv[1]), sys.argv[2]
BODY = b"ok"
STATUS_LINES = {
    "ok": b"HTTP/1.1 200 OK",
    "noreason": b"HTTP/1.1 200 ",
    "500": b"HTTP/1.1 500 Internal Server Error",
    "slow": b"HTTP/1.1 200 OK",
    "stall": b"HTTP/1.1 200 OK",
    "oneshot": b"HTTP/1.1 200 OK",
    "serial": b"HTTP/1.1 200 OK",
}
SLOW_S = 0.05
STALL_AFTER_S = 0.2
first_request_at: float | None = None
one_at_a_time: asyncio.Lock | None = None


def response(status_line: bytes, close: bool = False) -> bytes:
    headers = b"Content-Type: text/plain\r\nContent-Length: %d\r\n" % len(BODY)
    if close:
        headers += b"Connection: close\r\n"
    return status_line + b"\r\n" + headers + b"\r\n" + BODY


async def answer(path: bytes, writer: asyncio.StreamWriter) -> bool:
    """Answer one request; False when the connection must end."""
    global first_request_at
    if path == b"/json/sync":
        writer.write(response(b"HTTP/1.1 200 OK"))
        return True
    if MODE == "close":
        return False
    if MODE == "slow":
        await asyncio.sleep(SLOW_S)
    if MODE == "serial":
        global one_at_a_time
        one_at_a_time = one_at_a_time or asyncio.Lock()
        async with one_at_a_time:
            await asyncio.sleep(SLOW_S)
    if MODE == "stall":
        first_request_at = first_request_at or time.monotonic()
        if time.monotonic() - first_request_at > STALL_AFTER_S:
            await asyncio.Event().wait()  # hang: the client must not get an answer
    writer.write(response(STATUS_LINES[MODE], close=MODE == "oneshot"))
    return MODE != "oneshot"


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            parts = head.split(b" ", 2)
            if len(parts) < 3 or not await answer(parts[1], writer):
                break
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    finally:
        writer.close()


async def main() -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", PORT, backlog=256)
    print(f"status_line_server listening on {PORT} in {MODE} mode", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
