"""A server for testing the memory-soak check (synthetic; not a measured server):

    python memory_server.py PORT MODE

A main process that serves nothing binds the port and forks WORKERS worker processes on it,
and replaces any worker that exits (as Gunicorn's arbiter does). Each worker answers HTTP/1.1
with keep-alive, a thread per connection: a GET with a small JSON body (405 on /echo/count,
the upload's path), any POST by reading its Content-Length body in pieces and throwing it away
(400 when fewer bytes arrive). MODE:

``flat``
    Nothing is kept between requests.
``leaks``
    Every request keeps LEAK_BYTES (written, so they are resident) for the worker's life.
``recycles``
    Leaks like ``leaks``, but a worker exits after MAX_REQUESTS requests (the last one is
    answered with ``Connection: close``) and the main process starts another: memory is
    bounded by replacing workers, as ``--max-requests`` does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, MODE = int(sys.argv[1]), sys.argv[2]
WORKERS = 2
LEAK_BYTES = 64 * 1024
MAX_REQUESTS = 50
READ_SIZE = 64 * 1024
UPLOAD_PATH = "/echo/count"
KEPT: list[bytes] = []
SERVED = [0]
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet, like --no-access-log
        return

    def do_GET(self) -> None:
        if self.path.startswith(UPLOAD_PATH):  # an upload that came without its body
            self.answer(405, b'{"error": "POST only"}')
        else:
            self.answer(200, b'{"message": "hello"}')

    def do_POST(self) -> None:
        expected = int(self.headers.get("Content-Length") or 0)
        received = 0
        while received < expected:
            chunk = self.rfile.read(min(READ_SIZE, expected - received))
            if not chunk:
                break
            received += len(chunk)
        self.answer(200 if received == expected else 400, b'{"body_bytes": %d}' % received)

    def answer(self, status: int, body: bytes) -> None:
        with LOCK:
            SERVED[0] += 1
            last = MODE == "recycles" and SERVED[0] >= MAX_REQUESTS
            if MODE in ("leaks", "recycles"):
                KEPT.append(b"\x01" * LEAK_BYTES)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if last:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if last:
            os._exit(0)  # the answer is out; the main process starts another worker


def serve(listener: socket.socket) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler, bind_and_activate=False)
    server.socket = listener
    server.daemon_threads = True
    server.serve_forever()


def start_worker(listener: socket.socket) -> int:
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            serve(listener)
        finally:
            os._exit(0)
    return pid


def main() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", PORT))
    listener.listen(256)
    workers = {start_worker(listener) for _ in range(WORKERS)}

    def stop(signum: int, frame: object) -> None:
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"memory_server listening on {PORT} in {MODE} mode", flush=True)
    while True:
        pid, _ = os.wait()
        workers.discard(pid)
        workers.add(start_worker(listener))


if __name__ == "__main__":
    main()
