"""Memory of a server's whole process tree, once or sampled in the background.

The figure is the sum of PSS over the tree: forked workers share pages, and RSS counts every
shared page once per process (+51 % on a 10-process gunicorn tree, RESEARCH.md section 5). RSS
is recorded beside it.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self

import psutil

DEFAULT_INTERVAL_S = 0.25  # 4 Hz costs about 5 % of the load generator's core (RESEARCH.md 5)


def tree_memory(pid: int) -> dict[str, int]:
    """PSS and RSS summed over ``pid`` and all its descendants, and how many processes that was.

    The tree is listed anew on every call, since servers start and replace workers. A child that
    exits between listing and reading, or is a zombie, is left out; ProcessLookupError if ``pid``
    itself is gone or a zombie (a server that exited but was not waited for yet).
    """
    try:
        root = psutil.Process(pid)
        if root.status() == psutil.STATUS_ZOMBIE:
            raise psutil.ZombieProcess(pid)
        infos = [root.memory_full_info()]
        children = root.children(recursive=True)
    except psutil.NoSuchProcess as error:  # ZombieProcess is a NoSuchProcess too
        raise ProcessLookupError(f"process {pid} is gone") from error
    for child in children:
        try:
            # A zombie still reads as a process with no memory: it is not part of the server.
            if child.status() != psutil.STATUS_ZOMBIE:
                infos.append(child.memory_full_info())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return {
        "memory_pss_bytes": sum(info.pss for info in infos),
        "memory_rss_bytes": sum(info.rss for info in infos),
        "processes": len(infos),
    }


class MemorySampler:
    """Samples ``tree_memory(pid)`` every ``interval_s`` in a daemon thread while in the block.

    ``peak`` is the sample with the highest PSS (None before the first sample). If the process
    goes away, sampling stops and ``stopped_because`` says so; the block is not interrupted,
    because the caller's load run decides what a dead server means.
    """

    def __init__(self, pid: int, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.peak: dict[str, int] | None = None
        self.samples = 0
        self.stopped_because: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"memory-sampler-{pid}", daemon=True)

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
        # The first sample is taken at once, then one per interval until told to stop.
        while True:
            try:
                sample = tree_memory(self.pid)
            except ProcessLookupError:
                self.stopped_because = f"process {self.pid} exited"
                return
            except psutil.Error as error:
                self.stopped_because = f"cannot read process {self.pid}: {error}"
                return
            self.samples += 1
            if self.peak is None or sample["memory_pss_bytes"] > self.peak["memory_pss_bytes"]:
                self.peak = sample
            if self._stop.wait(self.interval_s):
                return
