"""A deliberately small asyncio HTTP/1.1 server speaking ASGI to the sample project's real ASGI
application, for testing the client-disconnect check (synthetic; not a measured server).

    python disconnect_asgi.py PORT MODE

Run from sampleproject/ (the launcher's working directory). One request per connection, which
it closes after the response. MODE says what it does when the client closes its connection
while the application runs:

* ``signals``: ``receive()`` answers ``http.disconnect`` at once, as the ASGI spec asks, so
  Django cancels an async view or stream and fires request_finished;
* ``silent``: ``receive()`` never answers, so every view runs to its end and writes to nobody;
* ``cancels``: it answers ``http.disconnect`` and cancels the application's task one second
  later if it is still running, as a server with a short disconnect grace period does; Django's
  request_finished, queued behind a sync view still running in its thread, is lost.
"""

import asyncio
import os
import sys

from asgi_scope import http_scope  # tests/apps/, this script's own folder

PORT, MODE = int(sys.argv[1]), sys.argv[2]
GRACE_S = 1.0
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproject.settings")

from sampleproject.asgi import application  # noqa: E402  (after the settings are chosen)


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    gone = asyncio.Event()
    body_sent = False
    chunked = False

    async def receive() -> dict:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        if MODE != "silent":
            await gone.wait()
            return {"type": "http.disconnect"}
        await asyncio.Event().wait()  # never
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        nonlocal chunked
        if writer.is_closing():
            return
        if message["type"] == "http.response.start":
            names = {name.lower() for name, _ in message["headers"]}
            chunked = b"content-length" not in names
            lines = [f"HTTP/1.1 {message['status']} OK".encode()]
            lines += [name + b": " + value for name, value in message["headers"]]
            lines += [b"Connection: close"] + ([b"Transfer-Encoding: chunked"] if chunked else [])
            writer.write(b"\r\n".join(lines) + b"\r\n\r\n")
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            if chunked and body:
                writer.write(f"{len(body):x}\r\n".encode() + body + b"\r\n")
            elif body:
                writer.write(body)
            if chunked and not message.get("more_body", False):
                writer.write(b"0\r\n\r\n")

    app = asyncio.ensure_future(application(http_scope(head, ("127.0.0.1", PORT)), receive, send))

    async def watch() -> None:
        await reader.read(1)  # b"" at the client's FIN (or a reset)
        gone.set()
        if MODE == "cancels":
            await asyncio.sleep(GRACE_S)
            app.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        await app
    except asyncio.CancelledError:
        pass
    finally:
        watcher.cancel()
        writer.close()


async def main() -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", PORT)
    async with server:
        await server.serve_forever()


asyncio.run(main())
