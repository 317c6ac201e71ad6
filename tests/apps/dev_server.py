"""A deliberately simple development server for testing the Development checks (synthetic; not
a measured server). It serves from the current directory, which is the sample project (or the
scratch copy a check edits):

    python dev_server.py PORT MODE

MODE ``friendly`` does what a good development server does: serves ``/static/`` from
``demo/static`` as text/css, reads the home template again on every request, restarts itself
when ``demo/views/basic.py`` changes, and sets TCP_NODELAY on its connections. ``unfriendly``
does none of it: ``/static/`` is a 404, the template is read once at start, code changes are
ignored, and Nagle's algorithm stays on. ``wrong-type`` is ``unfriendly`` except that
``/static/`` files are served as text/plain. ``two-workers`` stands for a server of two worker
processes that each read the template when they first render it and keep it: connections are
dealt to two template caches in turn, as new connections are dealt to a prefork server's
workers, so a worker that had not rendered the page shows a changed template at once and
the other never does. Every answer is written in two sends (the headers,
then the body), as ``http.server`` writes them, so with Nagle's algorithm on the body waits for
the client's delayed ACK of the headers.

``/`` answers a page that links the stylesheet and shows the home template's text;
``/json/sync`` answers the message of the sync JSON view, read from ``demo/views/basic.py``.
"""

import html
import itertools
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PORT, MODE = int(sys.argv[1]), sys.argv[2]
TEMPLATE = Path("demo/templates/demo/home.html")
VIEWS = Path("demo/views/basic.py")
STATIC = Path("demo/static")
MESSAGE = re.search(r'"message": "([^"]*)", "view": "sync"', VIEWS.read_text()).group(1)
TEMPLATE_AT_START = TEMPLATE.read_text()
# two-workers: each "worker"'s template, read when it first renders the page.
WORKER_TEMPLATES: dict[int, str] = {}
CONNECTIONS = itertools.count()


def home_page(worker: int) -> bytes:
    if MODE == "two-workers":
        template = WORKER_TEMPLATES.setdefault(worker, TEMPLATE.read_text())
    else:
        template = TEMPLATE.read_text() if MODE == "friendly" else TEMPLATE_AT_START
    return (
        '<!doctype html><html><head><link rel="stylesheet" href="/static/demo/style.css">'
        f"</head><body><pre>{html.escape(template)}</pre></body></html>"
    ).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = MODE == "friendly"  # socketserver sets TCP_NODELAY when true

    def setup(self) -> None:
        super().setup()
        self.worker = next(CONNECTIONS) % 2  # one handler per connection: dealt in turn

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/":
            self.answer(200, "text/html; charset=utf-8", home_page(self.worker))
        elif path == "/json/sync":
            self.answer(200, "application/json", json.dumps({"message": MESSAGE}).encode())
        elif path.startswith("/static/") and MODE != "unfriendly":
            file = STATIC / path.removeprefix("/static/")
            if file.is_file():
                kind = "text/css" if MODE == "friendly" else "text/plain"
                self.answer(200, kind, file.read_bytes())
            else:
                self.answer(404, "text/plain", b"not found")
        else:
            self.answer(404, "text/plain", b"not found")

    def answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        print("dev_server:", format % args, flush=True)


def restart_when_views_change() -> None:
    """A minimal reloader: re-execute this process when the views module changes."""
    started = VIEWS.stat().st_mtime_ns
    while VIEWS.stat().st_mtime_ns == started:
        time.sleep(0.1)
    print(f"dev_server: {VIEWS} changed, restarting", flush=True)
    os.execv(sys.executable, [sys.executable, *sys.argv])


if MODE == "friendly":
    threading.Thread(target=restart_when_views_change, daemon=True).start()
ThreadingHTTPServer.allow_reuse_address = True
print(f"dev_server listening on {PORT} in {MODE} mode", flush=True)
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
