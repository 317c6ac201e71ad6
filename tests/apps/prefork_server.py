"""A tiny pre-forking HTTP/1.1 server: a master process that binds the socket and forks worker
processes, which serve the paths the live-load checks use. Standard library only.

    python prefork_server.py PORT MODE WORKERS [--max-requests N ...]

Every request to /json/sync or /json/async takes SERVICE_S (so that some are always in flight
under load); /process answers the worker's pid, and /process/exit ends the worker (as the
sample project's view does, only with SAMPLEPROJECT_EXIT_VIEW=1); /sse/sync and /sse stream
an event every ``interval`` seconds (chunked) for as long as the client stays. MODE says what
the master does:

- ``respawn``: forks a new worker when one dies.
- ``never``: never replaces a dead worker.
- ``graceful``: respawns; on SIGHUP forks new workers, then tells the old ones to stop (SIGTERM):
  they accept nothing more, answer what they were asked with ``Connection: close``, end their
  streams with the last chunk, and exit once their clients have gone.
- ``drop``: respawns; on SIGHUP kills the old workers (SIGKILL), then forks new ones: what they
  had in flight is lost.
- ``halfway``: as ``graceful``, but a reload replaces only one worker (a reload that stops
  after its first worker, as one that waits forever on an old worker does).
- ``single``: serves in the master itself, forking nothing, and ignores SIGHUP (as a server
  without a reload mechanism that does not die of the signal, Uvicorn with one worker, does).

With ``--max-requests N`` (other arguments after it are ignored, as a jitter would be), a worker
retires after N requests: as on SIGTERM in ``graceful`` mode, at once (``os._exit``, what it
had in flight lost) in ``drop`` mode.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

SERVICE_S = 0.05
GRACE_S = 10.0  # a stopping worker whose clients stay longer exits anyway
stopping = threading.Event()
open_connections = 0
lock = threading.Lock()
max_requests: int | None = None
mode = ""
served = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        global served
        with lock:
            served += 1
            retire = max_requests is not None and served == max_requests
        if retire and mode == "drop":
            os._exit(0)
        if retire:
            os.kill(os.getpid(), signal.SIGTERM)
        parts = urlsplit(self.path)
        if parts.path in ("/sse", "/sse/sync"):
            self.stream(float(parse_qs(parts.query).get("interval", ["0.5"])[0]))
            return
        if parts.path == "/process":
            self.answer({"pid": os.getpid()})
        elif parts.path == "/process/exit" and os.environ.get("SAMPLEPROJECT_EXIT_VIEW") == "1":
            os._exit(1)
        elif parts.path in ("/json/sync", "/json/async"):
            time.sleep(SERVICE_S)
            self.answer({"message": "hello"})
        else:
            self.send_error(404)

    def answer(self, data: dict) -> None:
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if stopping.is_set():
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def stream(self, interval: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        number = 0
        try:
            while not stopping.is_set():
                event = f"id: {number}\ndata: {{}}\n\n".encode()
                self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                self.wfile.flush()
                number += 1
                stopping.wait(interval)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def process_request(self, request: socket.socket, client_address: object) -> None:
        global open_connections
        with lock:
            open_connections += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:
        global open_connections
        super().shutdown_request(request)
        with lock:
            open_connections -= 1


def serve(listener: socket.socket) -> None:
    server = Server(("127.0.0.1", 0), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = listener

    def stop(signum: int, frame: object) -> None:
        stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    server.serve_forever(poll_interval=0.05)
    listener.close()  # this process accepts nothing more; the others keep the socket
    deadline = time.monotonic() + GRACE_S
    while open_connections > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    os._exit(0)


def fork_worker(listener: socket.socket) -> int:
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        serve(listener)
    return pid


def main(port: int, workers: int) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(128)
    listener.setblocking(False)  # workers race to accept: the losers get EAGAIN, not a block
    if mode == "single":
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        serve(listener)
    children: set[int] = set()
    retiring: set[int] = set()
    reload = threading.Event()
    ending = threading.Event()
    signal.signal(signal.SIGHUP, lambda signum, frame: reload.set())
    signal.signal(signal.SIGTERM, lambda signum, frame: ending.set())
    for _ in range(workers):
        children.add(fork_worker(listener))
    while not ending.is_set():
        time.sleep(0.05)
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in retiring:
                retiring.discard(pid)
            elif pid in children:
                children.discard(pid)
                if mode != "never":
                    children.add(fork_worker(listener))
        if reload.is_set():
            reload.clear()
            old, children = children, set()
            if mode == "halfway":
                kept = sorted(old)[1:]
                old, children = old - set(kept), set(kept)
            if mode == "drop":
                for pid in old:
                    os.kill(pid, signal.SIGKILL)
            for _ in range(len(old)):
                children.add(fork_worker(listener))
            if mode != "drop":
                for pid in old:
                    os.kill(pid, signal.SIGTERM)
            retiring |= old
    for pid in children | retiring:
        os.kill(pid, signal.SIGKILL)
    sys.exit(0)


if __name__ == "__main__":
    mode = sys.argv[2]
    if "--max-requests" in sys.argv:
        max_requests = int(sys.argv[sys.argv.index("--max-requests") + 1])
    main(int(sys.argv[1]), int(sys.argv[3]))
