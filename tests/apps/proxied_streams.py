"""A tiny ASGI app under Hypercorn for testing the behind-nginx check (synthetic; not a measured
server and not Django).

    python proxied_streams.py PORT MODE

``/sse`` and ``/sse/sync`` (``?count=N&interval=S&id=ID``) stream events ``id: n`` /
``data: {json}`` stamped with the time each was made, like the sample project's views;
``/ws/echo`` is a WebSocket that sends every message back; ``/json/sync`` answers 200
(readiness); any other path, and a plain GET of /ws/echo, answers 404, as Django does.

MODE says how the events leave the app:

* ``flushes``: each event as it is made, and no ``X-Accel-Buffering`` header, so only nginx's
  ``proxy_buffering off`` keeps nginx from holding them;
* ``flushes-accel``: each event as it is made, with ``X-Accel-Buffering: no`` (as the sample
  project's views send it), which turns nginx's buffering off even in a stock configuration;
* ``buffers``: every event made at its pace, then all sent in one body at the end (a server
  that buffers a stream), with ``X-Accel-Buffering: no``, which cannot help.
"""

import asyncio
import json
import sys
import time
from urllib.parse import parse_qs

from hypercorn.asyncio import serve
from hypercorn.config import Config

PORT, MODE = int(sys.argv[1]), sys.argv[2]


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
    elif scope["type"] == "websocket":
        await echo(receive, send)
    elif scope["path"] in ("/sse", "/sse/sync"):
        await events(scope, send)
    elif scope["path"] == "/json/sync":
        await answer(send, 200, b'{"ready": true}\n')
    else:
        await answer(send, 404, b"Not Found\n")


async def lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def echo(receive, send):
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message.get("text")})
        else:
            return


async def answer(send, status, body):
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def events(scope, send):
    query = {name: values[0] for name, values in parse_qs(scope["query_string"].decode()).items()}
    count, interval = int(query.get("count", 5)), float(query.get("interval", 0.5))
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    if MODE != "flushes":
        headers.append((b"x-accel-buffering", b"no"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    held = b""
    for sent in range(1, count + 1):
        if sent > 1:
            await asyncio.sleep(interval)
        data = json.dumps({"n": sent, "count": count, "stream": query.get("id"), "at": time.time()})
        frame = f"id: {sent}\ndata: {data}\n\n".encode()
        if MODE == "buffers":
            held += frame
        else:
            await send({"type": "http.response.body", "body": frame, "more_body": True})
    await send({"type": "http.response.body", "body": held})


config = Config()
config.bind = [f"127.0.0.1:{PORT}"]
print(f"proxied_streams ({MODE}) listening on {PORT}", flush=True)
asyncio.run(serve(app, config))
