"""Share the machine between servers captured in parallel.

Untimed work (installing, starting, checks that only look at behaviour) may overlap. A timed
check judges by durations, so it takes the machine alone: it waits until running untimed work
is done and holds new work back until it finishes. Writers (timed checks) go first, so a long
stream of untimed work cannot starve them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class MachineLock:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._shared = 0  # untimed work in progress
        self._exclusive = False  # a timed check in progress
        self._waiting_exclusive = 0
        self.exclusive_s = 0.0  # time the machine spent on timed work alone, for the log

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._exclusive and not self._waiting_exclusive)
            self._shared += 1
        try:
            yield
        finally:
            with self._condition:
                self._shared -= 1
                self._condition.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._condition:
            self._waiting_exclusive += 1
            self._condition.wait_for(lambda: not self._exclusive and self._shared == 0)
            self._waiting_exclusive -= 1
            self._exclusive = True
        started = time.monotonic()
        try:
            yield
        finally:
            with self._condition:
                self.exclusive_s += time.monotonic() - started
                self._exclusive = False
                self._condition.notify_all()
