"""A deliberately simple HTTP server for testing the harness (synthetic; not a measured server).

    python tiny_http.py PORT MODE

MODE: ``threaded`` (every request concurrent), ``serial`` (one request at a time),
``two-at-a-time`` (at most two requests run at once), ``broken-sleep`` (sleep answers 500),
``dies-on-sleep`` (the whole process exits on the first sleep request, like a crash),
``dies-under-load`` (exits on its 30th request: a crash in the middle of a load test),
``half-broken`` (every second request answers 500),
``slow-to-load`` (listens at once but holds its first request LOAD_S, like a Gunicorn master
whose worker is still importing the app).
Every path answers 200 JSON except ``/sleep...?seconds=S``, which sleeps S seconds first.
"""

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PORT, MODE = int(sys.argv[1]), sys.argv[2]
SLOTS = threading.Semaphore(2)
LOAD_S = 1.0
LOADING = threading.Lock()
loaded = False
SERVED = iter(range(1, 10**9))  # next() on it is atomic enough under the GIL for a count


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        global loaded
        if MODE == "slow-to-load":
            with LOADING:
                if not loaded:
                    time.sleep(LOAD_S)
                    loaded = True
        url = urlsplit(self.path)
        status = 200
        if MODE == "dies-under-load" and next(SERVED) >= 30:
            print("tiny_http: dying on purpose under load", flush=True)
            os._exit(3)
        if MODE == "half-broken" and next(SERVED) % 2 == 0:
            status = 500
        if url.path.startswith("/sleep"):
            seconds = float(parse_qs(url.query).get("seconds", ["0"])[0])
            if MODE == "dies-on-sleep" and seconds:
                print("tiny_http: dying on purpose in the middle of a request", flush=True)
                os._exit(3)
            if MODE == "broken-sleep" and seconds:
                status = 500
            elif MODE == "two-at-a-time":
                with SLOTS:
                    time.sleep(seconds)
            else:
                time.sleep(seconds)
        body = json.dumps({"path": url.path}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        print("tiny_http:", format % args, flush=True)


server_class = HTTPServer if MODE == "serial" else ThreadingHTTPServer
# The default listen backlog of 5 drops the SYNs of a 10-request burst (a 1 s retransmit delay).
server_class.request_queue_size = 64
print(f"tiny_http listening on {PORT} in {MODE} mode", flush=True)
server_class(("127.0.0.1", PORT), Handler).serve_forever()
