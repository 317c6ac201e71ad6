"""A deliberately simple server for testing the Lifecycle checks (synthetic; not a measured
server):

    python lifecycle_server.py PORT MODE

Start-up modes (SIGTERM ends the process at once):
``clean`` logs one INFO line; ``lifespan-info`` logs uvicorn-style INFO that lifespan is
unsupported; ``lifespan-warning`` logs a WARNING that lifespan errored (as some servers do);
``traceback`` prints a traceback and an ERROR line at start-up, then serves anyway.

Stop modes, on SIGTERM:
``graceful`` stops accepting, finishes the requests in flight, then exits 0; ``abrupt`` dies at
once (Python's default for SIGTERM), cutting them; ``stubborn`` ignores the signal, finishes
the requests and keeps running.

Every path answers 200 JSON; ``/sleep...?seconds=S`` sleeps S seconds first.
"""

import json
import signal
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PORT, MODE = int(sys.argv[1]), sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path.startswith("/sleep"):
            time.sleep(float(parse_qs(url.query).get("seconds", ["0"])[0]))
        body = json.dumps({"path": url.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def log_start_up() -> None:
    print(f"[INFO] lifecycle_server listening on {PORT} in {MODE} mode", flush=True)
    if MODE == "lifespan-info":
        print("INFO:     ASGI 'lifespan' protocol appears unsupported.", flush=True)
    elif MODE == "lifespan-warning":
        print("[WARNING] ASGI Lifespan errored, continuing without Lifespan support", flush=True)
    elif MODE == "traceback":
        try:
            raise RuntimeError("synthetic start-up failure")
        except RuntimeError:
            print("[ERROR] Exception in 'lifespan' protocol", flush=True)
            traceback.print_exc()
            sys.stderr.flush()


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
if MODE == "graceful":
    server.daemon_threads = False  # server_close() then waits for the requests in flight
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
elif MODE == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
log_start_up()
server.serve_forever()
server.server_close()
print("[INFO] lifecycle_server stopped", flush=True)
