"""A tiny ASGI app for testing the protocol checks (synthetic; not a measured server).

Run it under Hypercorn (``hypercorn proto_asgi:app``), which speaks HTTP/1.1 and HTTP/2 over TLS
and in cleartext. ``/preload`` answers a small HTML page with a ``Link: rel=preload`` header, like
the sample project's view. With ``PROTO_PUSH=1`` it also pushes the stylesheet through the ASGI
``http.response.push`` extension, which Hypercorn turns into an HTTP/2 PUSH_PROMISE; without it
nothing is pushed. Every other path answers 200 JSON.
"""

import json
import os

STYLESHEET = "/static/demo/style.css"
PUSH = os.environ.get("PROTO_PUSH") == "1"
# PROTO_HEADER_CASE=Title names the response's fields as Django does ("Content-Type"), which
# HTTP/1.1 allows and HTTP/3 does not (RFC 9114 4.2: field names are lowercase).
TITLE_CASE = os.environ.get("PROTO_HEADER_CASE") == "Title"
PAGE = f'<html><head><link rel="stylesheet" href="{STYLESHEET}"></head><body>hi</body></html>'


async def app(scope, receive, send):
    if scope["type"] != "http":
        return  # lifespan: not implemented, like Django
    if scope["path"] == "/preload":
        await send_preload_page(scope, send)
    elif scope["path"] == STYLESHEET:
        await send_body(send, b"body { color: black; }\n", b"text/css")
    else:
        body = json.dumps({"path": scope["path"], "http_version": scope["http_version"]})
        await send_body(send, body.encode(), b"application/json")


async def send_preload_page(scope, send):
    if PUSH and "http.response.push" in scope.get("extensions", {}):
        await send({"type": "http.response.push", "path": STYLESHEET, "headers": []})
    link = f"<{STYLESHEET}>; rel=preload; as=style".encode()
    await send_body(send, PAGE.encode(), b"text/html; charset=utf-8", [(b"link", link)])


async def send_body(send, body, content_type, extra=()):
    headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body)), *extra]
    if TITLE_CASE:
        headers = [(name.title(), value) for name, value in headers]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
