"""A deliberately small asyncio HTTP/1.1 server speaking ASGI to the sample project's real ASGI
application, for testing the header-underscores check (synthetic; not a measured server).

    python underscore_asgi.py PORT MODE

Run from sampleproject/ (the launcher's working directory). One request per connection, which
it closes after the response. MODE says how header names reach the scope:

* ``raw``: as sent, lowercased (what the ASGI spec asks), so ``X_Forwarded_For`` stays
  ``x_forwarded_for`` and Django's ASGIRequest decides what META gets;
* ``hyphenates``: underscores in names turned into hyphens, so ``X_Forwarded_For`` arrives as a
  second ``x-forwarded-for`` and the server, not Django, merged the two names.
"""

import asyncio
import os
import sys

from asgi_scope import http_scope  # tests/apps/, this script's own folder

PORT, MODE = int(sys.argv[1]), sys.argv[2]
MODES = ("raw", "hyphenates")
if MODE not in MODES:
    sys.exit(f"unknown mode {MODE!r}, not one of {MODES}")
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproject.settings")

from sampleproject.asgi import application  # noqa: E402  (after the settings are chosen)


def scope_name(name: str) -> bytes:
    name = name.strip().lower()
    return (name.replace("_", "-") if MODE == "hyphenates" else name).encode("latin-1")


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Run the application on one request (no body) and write its whole response, framed by
    a Content-Length of the server's own."""
    head = await reader.readuntil(b"\r\n\r\n")
    asked = False
    status, headers, body = 500, [], b""

    async def receive() -> dict:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never goes away before the answer
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        nonlocal status, headers, body
        if message["type"] == "http.response.start":
            status, headers = message["status"], message.get("headers", [])
        elif message["type"] == "http.response.body":
            body += message.get("body", b"")

    try:
        await application(http_scope(head, ("127.0.0.1", PORT), scope_name), receive, send)
        lines = [f"HTTP/1.1 {status} OK".encode()]
        lines += [
            name + b": " + value for name, value in headers if name.lower() != b"content-length"
        ]
        lines += [f"Content-Length: {len(body)}".encode(), b"Connection: close"]
        writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        await writer.drain()
    finally:
        writer.close()


async def main() -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", PORT)
    async with server:
        await server.serve_forever()


asyncio.run(main())
