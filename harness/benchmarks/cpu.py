"""CPU time of process trees, sampled in the background, turned into "% of a core" per window.

A Locust step is judged by what the server did meanwhile: a server whose CPU is saturated is
CPU-bound; one that still queues requests while its CPU has time left is limited by its threads,
workers or database connections. Each tree (the server, nginx, PostgreSQL, the load tool) is
sampled apart, so a page can say who used the CPU they share.

Each sample is (wall time, CPU seconds of the tree). CPU seconds are, summed over the processes
of the tree alive at that moment, their own user + system time and that of their children that
exited and were reaped (the kernel's cutime/cstime, psutil's ``children_user`` and
``children_system``). PostgreSQL forks a backend per connection and its postmaster reaps it when
the client leaves; gunicorn's arbiter reaps the workers it replaces. Without the reaped share
their time would vanish from the tree between two samples. Nothing is counted twice: a child's
time is counted through the child while it lives, and moves into its parent's reaped share
when it is reaped (the kernel adds it there as it frees the child), so the figure of a window,
a difference between two samples, holds it once. What escapes is a process whose parent died
first (it is reparented outside the tree and reaped there), and a child reaped between the
reading of its parent and its own, which makes that one sample low by the child's time.

The same sampler reads ``/proc/stat`` at every tick, so a window also has each CPU's busy and
steal shares (``harness.benchmarks.proc_stat``): whether the CPU the server shares with nginx
and PostgreSQL had time left, which no single tree's figure can say.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Self

import psutil

from harness.benchmarks.proc_stat import CpuShare, CpuTicks, read_proc_stat, shares_between

DEFAULT_INTERVAL_S = 0.5
Sample = tuple[float, float]  # (time.time(), CPU seconds)
# (time.time(), threads of the tree, client connections of a PostgreSQL tree): what a server
# that queues without using its core is waiting on (its threads, or the database's
# connection limit, max_connections).
Count = tuple[float, int, int]
Ticks = tuple[float, dict[int, CpuTicks]]  # (time.time(), each CPU's /proc/stat counters)
# What the figures of a Locust step say about how they were counted (stored in their params):
# figures without it counted only the processes alive at each sample and had no per-CPU shares.
CPU_ACCOUNTING = "process trees with reaped children; per-CPU busy and steal from /proc/stat"


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
    """User + system seconds of ``pid`` and its live descendants, each with its reaped children's
    (see the module's docstring); ProcessLookupError if ``pid`` is gone."""
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
        total += times.user + times.system + times.children_user + times.children_system
    return total


def cpu_affinity(pid: int) -> list[int] | None:
    """The CPUs ``pid`` may run on (its children inherit them), or None if it cannot be read."""
    try:
        return sorted(psutil.Process(pid).cpu_affinity())
    except (psutil.Error, AttributeError):  # AttributeError: no cpu_affinity on this platform
        return None


class CpuSampler:
    """Samples ``tree_cpu_seconds`` of each named pid, and ``/proc/stat``, every ``interval_s``
    while in the block.

    A tree that goes away stops being sampled (its samples so far are kept); the block is not
    interrupted, since the load run decides what a dead server means.
    """

    def __init__(self, pids: Mapping[str, int], interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self.pids = dict(pids)
        self.interval_s = interval_s
        self.samples: dict[str, list[Sample]] = {role: [] for role in self.pids}
        self.counts: dict[str, list[Count]] = {role: [] for role in self.pids}
        self.ticks: list[Ticks] = []
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
            per_cpu = read_proc_stat()
            if per_cpu is not None:
                self.ticks.append((time.time(), per_cpu))
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

    def cpu_shares(self, start: float, end: float) -> dict[int, CpuShare]:
        """Each CPU's busy and steal shares between the first reading of ``/proc/stat`` at or
        after ``start`` and the last at or before ``end``; empty with fewer than two."""
        inside = [ticks for at, ticks in self.ticks if start <= at <= end]
        return shares_between(inside[0], inside[-1]) if len(inside) >= 2 else {}

    def affinities(self) -> dict[str, list[int]]:
        """role -> the CPUs its root process may run on, for the roles that can be read."""
        found = {role: cpu_affinity(pid) for role, pid in self.pids.items()}
        return {role: cpus for role, cpus in found.items() if cpus is not None}

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
