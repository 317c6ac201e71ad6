"""The overload check's load generator: HTTP/1.1 GETs over raw non-blocking sockets, run as a
child process of its own (standard library only), so that it has a core to itself and the
harness's threads cannot slow it down.

    python overload_generator.py --url URL --mode closed --connections N --warmup S --window S
    python overload_generator.py --url URL --mode open --rate R --window S --timeout S --bound N

``closed``: N connections, each sending its next request as soon as its last one is answered;
after the warm-up, the answers that arrive inside the window are the highest rate the server
answers at that concurrency.

``open``: request k is due at start + k / rate, whatever was answered before (a fixed arrival
rate), so when the server falls behind a queue grows. A due request is sent on an idle
keep-alive connection, or on a new one while fewer than ``--bound`` are open; beyond that it
waits in the generator, first come first served. Its latency runs from the moment it was due,
so waiting for a connection counts (no coordinated omission). A request not answered
``--timeout`` seconds after it was due is given up (its connection, if it had one, is reset):
no more than rate x timeout requests are ever outstanding, and no more than ``--bound``
connections are open. At the end of the window every connection is reset and what is still
outstanding is counted, not waited for.

Every request of the window ends one way: answered (2xx/3xx), an error status (by code),
refused (the connection attempt), reset or closed by the server without an answer, timed out
(while waiting for a connection, while connecting, or after it was sent), or outstanding at the
end. Answers are counted by when they arrived. One JSON object on stdout.

A ``selectors`` loop rather than asyncio: one callback per event and no task objects, so the
generator stays cheap (what it spent is reported, ``generator``) next to a server on two cores.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import math
import resource
import selectors
import socket
import struct
import sys
import time
from urllib.parse import urlsplit

CHECK_EVERY_S = 0.05  # how often requests in flight are compared with the timeout
STEP_S = 1.0  # the timeline's step
READ_SIZE = 65536
RESET_ON_CLOSE = struct.pack("ii", 1, 0)  # SO_LINGER 0: close with RST, no TIME_WAIT left
FILE_MARGIN = 64  # descriptors beyond the connections (selector, pipes, the interpreter)
RECONNECT_AFTER_S = 0.05  # closed loop: a slot whose connection failed tries again after this
CONNECTING, IDLE, BUSY, CLOSED = "connecting", "idle", "busy", "closed"
WAY_OUT = ("refused", "reset", "closed", "connect_error")
TIMEOUT_STAGES = ("waiting", "connecting", "sent")


class Connection:
    __slots__ = ("buffer", "chunked", "close", "due", "length", "sock", "state", "status")

    def __init__(self, sock: socket.socket, due: float | None) -> None:
        self.sock = sock
        self.state = CONNECTING
        self.due = due  # when the request it carries was due (sent, or to send once connected)
        self.clear()

    def clear(self) -> None:
        self.buffer = b""
        self.status: int | None = None
        self.length: int | None = None  # None: chunked, or delimited by the close
        self.chunked = False
        self.close = False


def parse_head(head: bytes) -> tuple[int, int | None, bool, bool]:
    """Status, Content-Length, chunked, and whether the server closes after this response."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    status = int(parts[1])
    length, chunked = None, False
    close = parts[0] == b"HTTP/1.0"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value
        elif name == b"connection":
            close = value == b"close" or (close and value != b"keep-alive")
    if status in (204, 304) or 100 <= status < 200:
        length = 0
    return status, (None if chunked else length), chunked, close


def chunked_end(body: bytes) -> bool:
    """Whether a chunked body is complete: walks the chunk sizes to the last (zero) chunk."""
    offset = 0
    while True:
        line_end = body.find(b"\r\n", offset)
        if line_end < 0:
            return False
        try:
            size = int(body[offset:line_end].split(b";")[0], 16)
        except ValueError:
            return True  # malformed: ended, rather than waited for
        if size == 0:
            return body.find(b"\r\n\r\n", line_end) >= 0 or len(body) >= line_end + 4
        offset = line_end + 2 + size + 2
        if len(body) < offset:
            return False


def percentile(ordered: list[float], share: float) -> float | None:
    """Nearest rank."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def summary(latencies_ms: list[float]) -> dict[str, float | None]:
    ordered = sorted(latencies_ms)
    return {
        "p50": _ms(percentile(ordered, 0.50)),
        "p99": _ms(percentile(ordered, 0.99)),
        "max": _ms(ordered[-1] if ordered else None),
    }


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class Load:
    def __init__(self, options: argparse.Namespace) -> None:
        target = urlsplit(options.url)
        if target.scheme != "http" or not target.hostname:
            raise SystemExit(f"an http:// URL is needed, not {options.url!r}")
        self.address = (target.hostname, target.port or 80)
        path = (target.path or "/") + (f"?{target.query}" if target.query else "")
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {target.netloc}\r\n"
            "User-Agent: serving-django-overload\r\nAccept: */*\r\n\r\n"
        ).encode("latin-1")
        self.open_model = options.mode == "open"
        self.rate = options.rate
        self.timeout_s = options.timeout
        self.warmup_s = 0.0 if self.open_model else options.warmup
        self.window_s = options.window
        self.bound = _allowed_connections(options.bound if self.open_model else options.connections)
        self.selector = selectors.DefaultSelector()
        self.connections: set[Connection] = set()
        self.idle: list[Connection] = []  # reused last in, first out: few connections stay hot
        self.start = self.window_start = self.window_end = 0.0
        self.total = round(self.rate * self.window_s) if self.open_model else 0
        self.admitted = 0  # requests due so far
        self.head = 0  # the oldest request still waiting for a connection
        self.due_count = 0  # closed loop: requests sent inside the window
        self.answered = 0
        self.latencies_ms: list[float] = []
        self.statuses: dict[int, int] = {}
        self.failures = dict.fromkeys(WAY_OUT, 0)
        self.timed_out = dict.fromkeys(TIMEOUT_STAGES, 0)
        self.steps: list[dict[str, object]] = []
        self.step_latencies: list[list[float]] = []
        self.opened = 0
        self.most_open = 0
        self.longest_turn_s = 0.0
        self.reopen_at: list[float] = []  # closed loop: when slots that lost theirs reconnect

    # --- the schedule (open model) ---------------------------------------------------------

    def due_of(self, index: int) -> float:
        return self.start + index / self.rate

    def admit(self, now: float) -> None:
        self.admitted = min(self.total, math.floor((now - self.start) * self.rate) + 1)

    def expire_waiting(self, now: float) -> None:
        """Give up the requests that waited for a connection for the whole timeout."""
        horizon = now - self.timeout_s
        if horizon < self.start:
            return
        expired = min(self.admitted, math.floor((horizon - self.start) * self.rate) + 1)
        if expired > self.head:
            self.count_timeout("waiting", expired - self.head, now)
            self.head = expired

    def dispatch(self, now: float) -> None:
        while self.head < self.admitted and self.idle:
            connection = self.idle.pop()
            if connection.state == IDLE:  # not closed by the server meanwhile
                self.send(connection, self.due_of(self.head), now)
                self.head += 1
        while self.head < self.admitted and len(self.connections) < self.bound:
            self.connect(self.due_of(self.head), now)
            self.head += 1

    def can_send(self) -> bool:
        return bool(self.idle) or len(self.connections) < self.bound

    # --- connections ---------------------------------------------------------------------

    def connect(self, due: float | None, now: float) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = Connection(sock, due)
        self.connections.add(connection)
        self.opened += 1
        self.most_open = max(self.most_open, len(self.connections))
        code = sock.connect_ex(self.address)
        if code not in (0, errno.EINPROGRESS):
            self.fail(connection, _connect_failure(code), now)
            return
        self.selector.register(sock, selectors.EVENT_WRITE, connection)

    def connected(self, connection: Connection, now: float) -> None:
        code = connection.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self.fail(connection, _connect_failure(code), now)
            return
        self.selector.modify(connection.sock, selectors.EVENT_READ, connection)
        self.send(connection, connection.due, now)

    def send(self, connection: Connection, due: float, now: float) -> None:
        connection.state, connection.due = BUSY, due
        if not self.open_model and self.window_start <= now < self.window_end:
            self.due_count += 1
        try:
            sent = connection.sock.send(self.request)
        except OSError:
            self.fail(connection, "reset", now)
            return
        if sent != len(self.request):  # a fresh or idle socket takes 100 bytes whole
            self.fail(connection, "reset", now)

    def readable(self, connection: Connection, now: float) -> None:
        try:
            data = connection.sock.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = None
        if connection.state != BUSY:  # an idle connection closed (or spoke) unasked
            self.drop(connection)
            return
        if data is None:
            self.fail(connection, "reset", now)
        elif not data:
            if connection.status is not None and connection.length is None:
                self.complete(connection, now)  # a body delimited by the close
            else:
                self.fail(connection, "closed", now)
        else:
            self.received(connection, data, now)

    def received(self, connection: Connection, data: bytes, now: float) -> None:
        buffer = connection.buffer + data if connection.buffer else data
        if connection.status is None:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                connection.buffer = buffer
                return
            try:
                head = parse_head(buffer[:end])
            except (IndexError, ValueError):
                self.fail(connection, "closed", now)  # not HTTP: as good as no answer
                return
            connection.status, connection.length, connection.chunked, connection.close = head
            buffer = buffer[end + 4 :]
        connection.buffer = buffer
        if connection.chunked:
            if chunked_end(buffer):
                self.complete(connection, now)
        elif connection.length is not None and len(buffer) >= connection.length:
            self.complete(connection, now)

    def complete(self, connection: Connection, now: float) -> None:
        status, close, due = connection.status, connection.close, connection.due
        connection.clear()
        connection.due = None
        self.record(status, due, now)
        if close:
            self.drop(connection)
            if not self.open_model:
                self.reopen_at.append(now)
            return
        connection.state = IDLE
        if self.open_model:
            self.idle.append(connection)
        else:
            self.send(connection, now, now)

    def fail(self, connection: Connection, way: str, now: float) -> None:
        due = connection.due
        self.drop(connection)
        if due is not None and self.counts(now):
            self.failures[way] += 1
            self.step(now)["shed"] += 1
        if not self.open_model:
            self.reopen_at.append(now + RECONNECT_AFTER_S)

    def drop(self, connection: Connection) -> None:
        """Close with a reset: no TIME_WAIT on our side, and a server reading it sees the end."""
        if connection not in self.connections:
            return
        self.connections.discard(connection)
        connection.state = CLOSED
        if connection.sock.fileno() >= 0:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(connection.sock)
            with contextlib.suppress(OSError):
                connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
            connection.sock.close()

    def expire_in_flight(self, now: float) -> None:
        for connection in list(self.connections):
            due = connection.due
            if due is not None and now - due >= self.timeout_s:
                stage = "connecting" if connection.state == CONNECTING else "sent"
                self.drop(connection)
                self.count_timeout(stage, 1, now)
                if not self.open_model:
                    self.reopen_at.append(now)

    def reopen(self, now: float) -> None:
        """Closed loop: open the slots' connections whose time has come; the request each
        carries is due when its connection is opened."""
        due = [at for at in self.reopen_at if at <= now]
        self.reopen_at = [at for at in self.reopen_at if at > now]
        for _ in due:
            self.connect(now, now)

    # --- tallies ---------------------------------------------------------------------------

    def counts(self, now: float) -> bool:
        """Whether what happens at ``now`` is the window's (the warm-up's is not)."""
        return self.window_start <= now < self.window_end

    def record(self, status: int | None, due: float | None, now: float) -> None:
        if due is None or not self.counts(now):
            return
        index = self.step_index(now)
        step = self.steps[index]
        if 200 <= status < 400:
            latency_ms = (now - due) * 1000
            self.answered += 1
            self.latencies_ms.append(latency_ms)
            self.step_latencies[index].append(latency_ms)
            step["answered"] += 1
        else:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            step["shed"] += 1

    def count_timeout(self, stage: str, count: int, now: float) -> None:
        if self.counts(now):
            self.timed_out[stage] += count
            self.step(now)["timed_out"] += count

    def step(self, now: float) -> dict[str, object]:
        """The timeline entry of the second ``now`` falls in."""
        return self.steps[self.step_index(now)]

    def step_index(self, now: float) -> int:
        """The index of the second ``now`` falls in, its entry opened if it is new."""
        index = min(int((now - self.window_start) / STEP_S), self.steps_in_window - 1)
        while len(self.steps) <= index:
            self.steps.append({"answered": 0, "shed": 0, "timed_out": 0, "outstanding": None})
            self.step_latencies.append([])
        return index

    @property
    def steps_in_window(self) -> int:
        return max(1, math.ceil(self.window_s / STEP_S - 1e-9))

    def outstanding(self) -> dict[str, int]:
        waiting = self.admitted - self.head if self.open_model else 0
        connecting = sum(1 for c in self.connections if c.state == CONNECTING)
        sent = sum(1 for c in self.connections if c.state == BUSY)
        return {"waiting": waiting, "connecting": connecting, "sent": sent}

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> dict[str, object]:
        began_cpu = _cpu_s()
        self.start = time.monotonic()
        self.window_start = self.start + self.warmup_s
        self.window_end = self.window_start + self.window_s
        next_check = self.start + CHECK_EVERY_S
        next_step = self.window_start + STEP_S
        if not self.open_model:
            self.reopen_at = [self.start] * self.bound
        window_cpu = began_cpu
        while True:
            now = time.monotonic()
            if now >= self.window_end:
                break
            if self.open_model:
                self.admit(now)
                self.expire_waiting(now)
                self.dispatch(now)
            elif self.reopen_at:
                self.reopen(now)
            if now >= next_check:
                self.expire_in_flight(now)
                next_check += CHECK_EVERY_S
            if now >= next_step:
                self.step(now - STEP_S)["outstanding"] = sum(self.outstanding().values())
                next_step += STEP_S
            if now < self.window_start:
                window_cpu = _cpu_s()
            wake = min(self.window_end, next_check, next_step)
            if self.open_model and self.admitted < self.total and self.can_send():
                wake = min(wake, self.due_of(self.admitted))
            if self.reopen_at:
                wake = min(wake, min(self.reopen_at))
            began, asleep = now, time.monotonic()
            events_at = None
            for key, events in self.selector.select(max(0.0, wake - asleep)):
                connection, now = key.data, time.monotonic()
                events_at = events_at or now
                if now >= self.window_end:
                    break  # what is left arrived after the window: outstanding at its end
                if connection.state == CLOSED:  # dropped earlier in this batch
                    continue
                if connection.state == CONNECTING and events & selectors.EVENT_WRITE:
                    self.connected(connection, now)
                else:
                    self.readable(connection, now)
            # The loop's own work in this turn, its waiting aside: a long one delays requests.
            busy_s = asleep - began + (time.monotonic() - events_at if events_at else 0.0)
            self.longest_turn_s = max(self.longest_turn_s, busy_s)
        end = self.window_end
        if self.open_model:
            self.admit(end - 1e-9)
            self.expire_waiting(end - 1e-9)
        left = self.outstanding()
        self.step(end - 1e-9)["outstanding"] = sum(left.values())
        cpu_s = _cpu_s() - window_cpu
        for connection in list(self.connections):
            self.drop(connection)
        self.selector.close()
        return self.result(left, cpu_s)

    def result(self, outstanding: dict[str, int], cpu_s: float) -> dict[str, object]:
        due = self.admitted if self.open_model else self.due_count
        timeline = []
        for index, step in enumerate(self.steps):
            latency = summary(self.step_latencies[index])
            timeline.append(
                {"at_s": round((index + 1) * STEP_S, 3), **step, "p50_ms": latency["p50"]}
            )
        return {
            "mode": "open" if self.open_model else "closed",
            "rate_per_s": round(self.rate, 3) if self.open_model else None,
            "connections": self.bound,
            "warmup_s": self.warmup_s,
            "window_s": self.window_s,
            "timeout_s": self.timeout_s,
            "due": due,
            "answered": self.answered,
            "answered_per_s": round(self.answered / self.window_s, 3),
            "latency_ms": summary(self.latencies_ms),
            "statuses": {str(code): count for code, count in sorted(self.statuses.items())},
            **{way: count for way, count in self.failures.items()},
            "timed_out": self.timed_out,
            "outstanding": outstanding,
            "timeline": timeline,
            "generator": {
                "connections_opened": self.opened,
                "most_open": self.most_open,
                "cpu_s": round(cpu_s, 3),
                "longest_turn_ms": round(self.longest_turn_s * 1000, 3),
            },
        }


def _connect_failure(code: int) -> str:
    return "refused" if code == errno.ECONNREFUSED else "connect_error"


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _allowed_connections(wanted: int) -> int:
    """``wanted``, raising the soft file limit for it; fewer if the hard limit forbids it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + FILE_MARGIN
    if hard != resource.RLIM_INFINITY and needed > hard:
        needed = hard
    if needed > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return max(1, min(wanted, needed - FILE_MARGIN))


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--mode", choices=("closed", "open"), required=True)
    parser.add_argument("--rate", type=float, default=0.0, help="open: requests due per second")
    parser.add_argument("--connections", type=int, default=50, help="closed: the loop's size")
    parser.add_argument("--bound", type=int, default=1000, help="open: most connections open")
    parser.add_argument("--warmup", type=float, default=1.0, help="closed: seconds before")
    parser.add_argument("--window", type=float, required=True, help="seconds measured")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds after due")
    options = parser.parse_args(argv)
    if options.mode == "open" and options.rate <= 0:
        parser.error("--mode open needs --rate > 0")
    if options.window <= 0 or options.timeout <= 0:
        parser.error("--window and --timeout must be positive")
    return options


def main(argv: list[str]) -> None:
    result = Load(arguments(argv)).run()
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
