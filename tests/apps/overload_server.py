"""A server for testing the overload check (synthetic; not a measured server):

    python overload_server.py PORT MODE

One worker thread answers ``GET /json/sync`` one request at a time, each taking SERVICE_S (a
sleep), so it answers about 1 / SERVICE_S requests per second however many arrive. Each
connection has a thread that reads its requests and hands them to the worker through one
first-come-first-served queue. MODE says what happens to the excess:

``queue``
    Nothing: every request waits its turn however long the queue grows, and the worker still
    serves the requests of clients that have gone (it never looks).
``shed``
    A request that finds SHED_ABOVE requests waiting is answered ``503`` at once, so no answered
    request waits for more than that many before it.
``deadline``
    The worker drops a request that waited more than DEADLINE_S for its turn, closing its
    connection without an answer; the ones it answers never waited longer.

Anything but ``/json/sync`` is 404.
"""

from __future__ import annotations

import queue
import socket
import sys
import threading
import time

PORT, MODE = int(sys.argv[1]), sys.argv[2]
SERVICE_S = 0.01
# Above the check's closed loop of 50 connections, as a real server's bound sits above its
# normal concurrency: measuring the maximum rate queues every request, so the load generator
# does not spin on instant 503s and read as saturated. 60 waiting x SERVICE_S = 0.6 s, inside
# the check's 1 s latency bound.
SHED_ABOVE = 60
DEADLINE_S = 0.2
BACKLOG = 2048
BODY = b'{"message": "hello", "view": "sync"}'
WAITING: queue.Queue[Pending] = queue.Queue()


class Pending:
    """One request waiting for the worker: when it arrived and, once done, whether to answer."""

    def __init__(self) -> None:
        self.arrived = time.monotonic()
        self.answer = False
        self.done = threading.Event()


def worker() -> None:
    while True:
        pending = WAITING.get()
        if MODE != "deadline" or time.monotonic() - pending.arrived <= DEADLINE_S:
            time.sleep(SERVICE_S)
            pending.answer = True
        pending.done.set()


def respond(sock: socket.socket, status: str, body: bytes) -> None:
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
    sock.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)


def serve(sock: socket.socket) -> None:
    buffer = b""
    with sock:
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = sock.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                if head.split(b" ", 2)[1] != b"/json/sync":
                    respond(sock, "404 Not Found", b"{}")
                elif MODE == "shed" and WAITING.qsize() >= SHED_ABOVE:
                    respond(sock, "503 Service Unavailable", b'{"error": "overloaded"}')
                else:
                    pending = Pending()
                    WAITING.put(pending)
                    pending.done.wait()
                    if not pending.answer:
                        return  # dropped: closed without an answer
                    respond(sock, "200 OK", BODY)
        except OSError:
            return


def main() -> None:
    if MODE not in ("queue", "shed", "deadline"):
        sys.exit(f"unknown mode {MODE!r}")
    listener = socket.create_server(("127.0.0.1", PORT), backlog=BACKLOG)
    threading.Thread(target=worker, daemon=True).start()
    print(f"overload_server listening on {PORT} in {MODE} mode", flush=True)
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=serve, args=(sock,), daemon=True).start()


main()
