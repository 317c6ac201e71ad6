"""A deliberately simple stand-in for the sample project's aggregation views (synthetic; not a
measured server), for testing the Slow upstream checks.

    python upstream_aggregator.py PORT MODE

Every aggregation "call" is a sleep of 300, 600 or 150 ms in this process. MODE:
``parallel`` (the thread-pool and async views really sleep in three threads at once),
``fake-parallel`` (they sleep one after another but claim their mode and a 600 ms elapsed_ms),
``async-fails`` (the async view answers 500 and logs a traceback, as under gevent),
``too-fast`` (the views answer at once, as if the delays were ignored).
/upstream/api?delay_ms=N answers a country after N ms, so this process can stand in for the
upstream service too; /json/sync answers at once (readiness).
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PORT, MODE = int(sys.argv[1]), sys.argv[2]
DELAYS_S = (0.3, 0.6, 0.15)
TRACEBACK = """Internal Server Error: /upstream/async
Traceback (most recent call last):
  File "synthetic.py", line 1, in view
RuntimeError: You cannot use AsyncToSync in the same thread as an async event loop
"""


def sleep_in_threads() -> None:
    threads = [threading.Thread(target=time.sleep, args=(delay,)) for delay in DELAYS_S]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def aggregate(mode: str) -> tuple[int, dict]:
    started = time.perf_counter()
    if MODE == "too-fast":
        pass
    elif mode == "sequential" or MODE == "fake-parallel":
        for delay in DELAYS_S:
            time.sleep(delay)
    else:
        sleep_in_threads()
    elapsed_ms = (time.perf_counter() - started) * 1000
    if MODE == "fake-parallel" and mode != "sequential":
        elapsed_ms = 600.0  # the lie: it claims what a parallel view would take
    body = {
        "countries": ["Ghana", "Japan", "Egypt"],
        "delays_ms": [300, 600, 150],
        "elapsed_ms": elapsed_ms,
        "mode": mode,
    }
    return 200, body


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        status, body = 200, {"path": url.path}
        if url.path == "/upstream/api":
            delay_ms = int(parse_qs(url.query).get("delay_ms", ["300"])[0])
            time.sleep(delay_ms / 1000)
            body = {"country": "France", "delay_ms": delay_ms}
        elif url.path.startswith("/upstream/"):
            mode = url.path.removeprefix("/upstream/")
            if mode == "async" and MODE == "async-fails":
                print(TRACEBACK, flush=True)
                self.answer(500, b"<h1>Server Error (500)</h1>", "text/html")
                return
            status, body = aggregate(mode)
        self.answer(status, json.dumps(body).encode(), "application/json")

    def answer(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        print("upstream_aggregator:", format % args, flush=True)


ThreadingHTTPServer.request_queue_size = 64
print(f"upstream_aggregator listening on {PORT} in {MODE} mode", flush=True)
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
