"""A deliberately simple stand-in for the sample project's async and ORM views (synthetic; not a
measured server), for testing the Django async checks.

    python async_views.py PORT MODE

MODE: ``correct`` (answers like the sample project), ``wrong-json`` (/json/async answers the
sync view's JSON), ``concurrent-fails`` (an async request answers 500 while another one is in
flight, as under gevent), ``orm-wrong-rows`` (/orm/async leaves out a question),
``empty-db`` (both ORM views find no questions).
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PORT, MODE = int(sys.argv[1]), sys.argv[2]
QUESTIONS = [
    {
        "id": number,
        "question_text": f"Question {number}?",
        "pub_date": "2026-01-01T00:00:00+00:00",
        "choices": [{"id": number * 10 + c, "choice_text": f"C{c}", "votes": c} for c in (1, 2)],
    }
    for number in (1, 2, 3)
]
IN_FLIGHT = threading.Semaphore(1)
TRACEBACK = """Internal Server Error: {path}
Traceback (most recent call last):
  File "synthetic.py", line 1, in view
RuntimeError: You cannot use AsyncToSync in the same thread as an async event loop
"""


def orm(view: str) -> dict:
    questions = [] if MODE == "empty-db" else list(QUESTIONS)
    if view == "async" and MODE == "orm-wrong-rows":
        questions = questions[:-1]
    return {"view": view, "total": len(QUESTIONS), "questions": questions}


def async_body(path: str, query: dict) -> dict:
    if path == "/json/async":
        return {"message": "hello", "view": "sync" if MODE == "wrong-json" else "async"}
    if path == "/sleep/async":
        seconds = float(query.get("seconds", ["1"])[0])
        time.sleep(seconds)
        return {"slept": seconds, "view": "async"}
    time.sleep(0.2)  # /orm/async: long enough for two concurrent requests to overlap
    return orm("async")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path in ("/json/async", "/sleep/async", "/orm/async"):
            self.answer_async(url.path, parse_qs(url.query))
        elif url.path == "/orm/sync":
            self.answer(200, orm("sync"))
        else:
            self.answer(200, {"message": "hello", "view": "sync"})

    def answer_async(self, path: str, query: dict) -> None:
        if MODE != "concurrent-fails":
            self.answer(200, async_body(path, query))
            return
        if not IN_FLIGHT.acquire(blocking=False):
            print(TRACEBACK.format(path=path), flush=True)
            self.answer(500, "<h1>Server Error (500)</h1>", "text/html")
            return
        try:
            body = async_body(path, query)
        finally:
            IN_FLIGHT.release()
        self.answer(200, body)

    def answer(self, status: int, body: object, content_type: str = "application/json") -> None:
        payload = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        print("async_views:", format % args, flush=True)


ThreadingHTTPServer.request_queue_size = 64
print(f"async_views listening on {PORT} in {MODE} mode", flush=True)
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
