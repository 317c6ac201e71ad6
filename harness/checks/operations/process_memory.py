"""The memory of every process of a server, sampled at a fixed interval, kept per process.

``harness.benchmarks.resources.tree_memory`` sums a tree; a soak needs each process on its own,
because a worker that is replaced in the middle (recycled after so many requests, or over a
memory limit) is a series of its own, and its replacement another. Each sample reads RSS and
PSS (``memory_full_info``; PSS shares a page among the processes that map it, so the sum over
a forked tree counts every page once) of the server's own process and all its descendants,
listed anew every time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import psutil


@dataclass(frozen=True)
class Reading:
    rss: int
    pss: int


@dataclass(frozen=True)
class Snapshot:
    at_s: float  # seconds after the sampler's origin
    readings: dict[int, Reading]  # pid -> its memory; a process that could not be read is absent

    def total(self, kind: str) -> int:
        return sum(getattr(reading, kind) for reading in self.readings.values())


@dataclass
class ProcessSeries:
    """One process over the soak: its samples, and whom it replaced or was replaced by."""

    pid: int
    role: str  # "main" (the process the harness started) or "child" (any descendant)
    command: str
    times: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    pss: list[int] = field(default_factory=list)
    replaces: int | None = None
    replaced_by: int | None = None

    @property
    def first_s(self) -> float:
        return self.times[0]

    @property
    def last_s(self) -> float:
        return self.times[-1]


def _command(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())[:160] or process.name()
    except psutil.Error:
        return ""


class ProcessMemorySampler:
    """Samples the tree of ``pid`` every ``interval_s`` in a daemon thread while in the block;
    times are seconds after ``origin`` (a ``time.monotonic()`` value, default: the start)."""

    def __init__(self, pid: int, interval_s: float, origin: float | None = None) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.origin = origin
        self.snapshots: list[Snapshot] = []
        self.commands: dict[int, str] = {}
        self.stopped_because: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"soak-memory-{pid}", daemon=True)

    def __enter__(self) -> Self:
        if self.origin is None:
            self.origin = time.monotonic()
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

    def snapshot(self) -> Snapshot:
        """One reading of the tree now; ProcessLookupError when the server's process is gone."""
        assert self.origin is not None
        at_s = time.monotonic() - self.origin
        try:
            root = psutil.Process(self.pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess as error:
            raise ProcessLookupError(f"process {self.pid} is gone") from error
        readings = {}
        for process in processes:
            try:
                if process.status() == psutil.STATUS_ZOMBIE:
                    continue
                info = process.memory_full_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            readings[process.pid] = Reading(info.rss, info.pss)
            if process.pid not in self.commands:
                self.commands[process.pid] = _command(process)
        return Snapshot(round(at_s, 3), readings)

    def _run(self) -> None:
        assert self.origin is not None
        due = self.origin
        while True:
            try:
                self.snapshots.append(self.snapshot())
            except ProcessLookupError as error:
                self.stopped_because = str(error)
                return
            except psutil.Error as error:
                self.stopped_because = f"cannot read process {self.pid}: {error}"
                return
            # On a fixed schedule, so a slow reading does not stretch the interval.
            due += self.interval_s
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return

    def series(self) -> list[ProcessSeries]:
        """Every process seen, the server's own first, then in order of appearance, with each
        process that exited before the end paired with the first one that appeared after it."""
        found: dict[int, ProcessSeries] = {}
        for snapshot in self.snapshots:
            for pid, reading in snapshot.readings.items():
                if pid not in found:
                    role = "main" if pid == self.pid else "child"
                    found[pid] = ProcessSeries(pid, role, self.commands.get(pid, ""))
                series = found[pid]
                series.times.append(snapshot.at_s)
                series.rss.append(reading.rss)
                series.pss.append(reading.pss)
        ordered = sorted(found.values(), key=lambda s: (s.role != "main", s.first_s, s.pid))
        _pair_replacements(ordered, self.snapshots)
        return ordered


def _pair_replacements(series: list[ProcessSeries], snapshots: list[Snapshot]) -> None:
    """A child missing from the last sample exited; the first child that appeared after its
    last sample, not yet paired, is taken as its replacement."""
    if not snapshots:
        return
    first_s, last_s = snapshots[0].at_s, snapshots[-1].at_s
    children = [s for s in series if s.role == "child"]
    exited = sorted((s for s in children if s.last_s < last_s), key=lambda s: s.last_s)
    newcomers = sorted((s for s in children if s.first_s > first_s), key=lambda s: s.first_s)
    for gone in exited:
        replacement = next(
            (s for s in newcomers if s.replaces is None and s.first_s > gone.last_s), None
        )
        if replacement is not None:
            gone.replaced_by = replacement.pid
            replacement.replaces = gone.pid
