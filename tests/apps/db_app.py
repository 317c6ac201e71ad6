"""A tiny threaded HTTP server whose pages query PostgreSQL (synthetic; not a measured server).

    python db_app.py PORT MODE

It reads DATABASE_URL, as the sample project does (unset: its pages fail), and ignores the
variables that choose the sample project's connection setup. Every path but /json/sync (the
harness's readiness page, which touches no database) runs ``SELECT 1`` and answers 200, or 500
with the traceback on stderr when the query fails. MODE says what becomes of the connection:

``leak``   a new connection per request, never closed (kept referenced, so no garbage
           collector closes it either)
``close``  a new connection per request, closed after it
``keep``   one connection per process, reused without a health check and replaced after it
           failed (Django's persistent connections without CONN_HEALTH_CHECKS)
``stuck``  one connection per process, reused and never replaced, even after it failed
"""

import os
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg

PORT, MODE = int(sys.argv[1]), sys.argv[2]
URL = os.environ.get("DATABASE_URL", "")
LEAKED: list[psycopg.Connection] = []
KEPT: list[psycopg.Connection] = []
LOCK = threading.Lock()


def query() -> None:
    if MODE == "close":
        with psycopg.connect(URL) as connection:
            connection.execute("SELECT 1")
        return
    if MODE == "leak":
        connection = psycopg.connect(URL)
        with LOCK:
            LEAKED.append(connection)
        connection.execute("SELECT 1")
        connection.commit()
        return
    with LOCK:
        if not KEPT:
            KEPT.append(psycopg.connect(URL, autocommit=True))
        connection = KEPT[0]
        try:
            connection.execute("SELECT 1")
        except psycopg.Error:
            if MODE == "keep":
                KEPT.clear()
            raise


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        status = 200
        if self.path != "/json/sync":
            try:
                query()
            except psycopg.Error:
                traceback.print_exc()
                status = 500
        body = b'{"ok": true}' if status == 200 else b'{"ok": false}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
