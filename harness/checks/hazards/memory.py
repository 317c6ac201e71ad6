"""The resident memory of a server's processes, sampled while a check sends it something big."""

from __future__ import annotations

import threading

import psutil


class MemoryWatch:
    """The peak resident memory of a process tree, sampled in a thread until stopped."""

    SAMPLE_EVERY_S = 0.05

    def __init__(self, pids: set[int]) -> None:
        self.pids = pids
        self.start_bytes = self.resident()
        self.peak_bytes = self.start_bytes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def resident(self) -> int:
        total = 0
        for pid in self.pids:
            try:
                total += psutil.Process(pid).memory_info().rss
            except psutil.Error:
                continue
        return total

    def _sample(self) -> None:
        while not self._stop.wait(self.SAMPLE_EVERY_S):
            self.peak_bytes = max(self.peak_bytes, self.resident())

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_bytes(self) -> int:
        return self.peak_bytes - self.start_bytes
