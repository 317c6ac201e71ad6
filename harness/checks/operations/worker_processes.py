"""A server's worker processes, seen from outside: the processes it forked (psutil children of
the process the harness started), and which of them run Django (they answer the sample
project's /process view with their own pid)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import psutil

PROBE_TIMEOUT_S = 5.0
CMDLINE_CHARS = 100
POLL_S = 0.25


def descendants(root_pid: int) -> dict[int, str]:
    """Every process the server forked, by pid, with the start of its command line."""
    try:
        children = psutil.Process(root_pid).children(recursive=True)
    except psutil.Error:
        return {}
    found = {}
    for child in children:
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue  # dead, not yet reaped by the server
            found[child.pid] = " ".join(child.cmdline())[:CMDLINE_CHARS] or child.name()
        except psutil.Error:
            continue
    return found


def client_ports(pid: int, server_port: int) -> list[int]:
    """The clients' ports of the connections ``pid`` holds on ``server_port``."""
    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.Error:
        return []
    return sorted(
        c.raddr.port for c in connections if c.raddr and c.laddr and c.laddr.port == server_port
    )


def _probe(url: str) -> int | None:
    """The pid a fresh connection's request to /process was answered from."""
    try:
        with httpx.Client(timeout=PROBE_TIMEOUT_S) as client:
            response = client.get(url, headers={"Connection": "close"})
        return int(response.json()["pid"]) if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


def serving_pids(url: str, probes: int) -> Counter[int]:
    """Pids that answered ``probes`` requests to /process, each on a connection of its own,
    sent side by side so that they spread over the workers."""
    with ThreadPoolExecutor(max_workers=probes) as pool:
        answers = list(pool.map(_probe, [url] * probes))
    return Counter(pid for pid in answers if pid is not None)


@dataclass
class TreeWatch:
    """The server's children, polled until ``stop``: each change with its time (time.time())."""

    root_pid: int
    changes: list[dict[str, object]] = field(default_factory=list)
    _last: dict[int, str] = field(default_factory=dict)

    def poll(self) -> dict[int, str]:
        now = descendants(self.root_pid)
        if set(now) != set(self._last):
            self.changes.append({"at_unix": time.time(), "pids": sorted(now)})
            self._last = now
        return now

    def until(self, deadline: float) -> None:
        """Poll every POLL_S until ``deadline`` (time.monotonic())."""
        while time.monotonic() < deadline:
            self.poll()
            time.sleep(POLL_S)


class HeldPorts:
    """The clients' ports each of ``pids`` held on ``server_port`` at any time while watched
    (polled in a thread): a worker that ends itself takes with it the connections it accepted
    up to its last moment, not only those it held when the watch began."""

    POLL_S = 0.02

    def __init__(self, pids: set[int], server_port: int) -> None:
        self.ports: dict[int, set[int]] = {pid: set(client_ports(pid, server_port)) for pid in pids}
        self._server_port = server_port
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(self.POLL_S):
            for pid, seen in self.ports.items():
                seen.update(client_ports(pid, self._server_port))

    def __enter__(self) -> HeldPorts:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
