"""CPU time of process trees, sampled in the background, turned into "% of a core" per window.

A Locust step is judged by what the server did meanwhile: a server at 100 % of its one core is
CPU-bound; one at 10 % that still queues requests is limited by its threads or workers. The
load tool is sampled the same way, since it shares the machine's two cores with the server.

Each sample is (wall time, CPU seconds of the tree). CPU seconds are user + system time summed
over the processes alive at that moment: a worker that exits takes its time with it, so a tree
whose workers are replaced during a window under-reports (the servers here keep their workers).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Self

import psutil

DEFAULT_INTERVAL_S = 0.5
Sample = tuple[float, float]  # (time.time(), CPU seconds)
# (time.time(), threads of the tree, client connections of a PostgreSQL tree): what a server
# that queues without using its core is waiting on (its threads, or the database's
# connection limit, max_connections).
Count = tuple[float, int, int]


def tree_counts(pid: int) -> tuple[int, int]:
    """Threads of ``pid``'s tree, and how many of its processes are PostgreSQL backends
    serving a client over TCP (their title reads ``postgres: USER DB HOST(PORT) ...``)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess as error:
        raise ProcessLookupError(f"process {pid} is gone") from error
    threads = connections = 0
    for process in processes:
        try:
            threads += process.num_threads()
            title = " ".join(process.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if title.startswith("postgres: ") and "(" in title:
            connections += 1
    return threads, connections


def tree_cpu_seconds(pid: int) -> float:
    """User + system seconds of ``pid`` and its live descendants; ProcessLookupError if gone."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess as error:
        raise ProcessLookupError(f"process {pid} is gone") from error
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += times.user + times.system
    return total


class CpuSampler:
    """Samples ``tree_cpu_seconds`` of each named pid every ``interval_s`` while in the block.

    A tree that goes away stops being sampled (its samples so far are kept); the block is not
    interrupted, since the load run decides what a dead server means.
    """

    def __init__(self, pids: Mapping[str, int], interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self.pids = dict(pids)
        self.interval_s = interval_s
        self.samples: dict[str, list[Sample]] = {role: [] for role in self.pids}
        self.counts: dict[str, list[Count]] = {role: [] for role in self.pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        alive = dict(self.pids)
        while alive:
            for role, pid in list(alive.items()):
                try:
                    now = time.time()
                    self.samples[role].append((now, tree_cpu_seconds(pid)))
                    self.counts[role].append((now, *tree_counts(pid)))
                except (ProcessLookupError, psutil.Error):
                    del alive[role]
            if self._stop.wait(self.interval_s):
                return

    def percent(self, role: str, start: float, end: float) -> float | None:
        return window_percent(self.samples[role], start, end)

    def peak_threads(self, role: str, start: float, end: float) -> int | None:
        inside = [threads for at, threads, _ in self.counts[role] if start <= at <= end]
        return max(inside) if inside else None

    def peak_connections(self, role: str, start: float, end: float) -> int | None:
        inside = [connections for at, _, connections in self.counts[role] if start <= at <= end]
        return max(inside) if inside else None


def window_percent(samples: Sequence[Sample], start: float, end: float) -> float | None:
    """CPU use between the first sample at or after ``start`` and the last at or before
    ``end``, as a percentage of one core; None with fewer than two samples in the window."""
    inside = [sample for sample in samples if start <= sample[0] <= end]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return None
    (first_at, first_cpu), (last_at, last_cpu) = inside[0], inside[-1]
    return round((last_cpu - first_cpu) / (last_at - first_at) * 100, 1)
