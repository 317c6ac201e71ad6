"""Share the machine between servers captured in parallel.

Timed checks (those that judge by durations) may overlap each other and light work: their
thresholds are wide (a parallel batch of 1 s sleeps is concurrent up to 1.5 s; chunks 0.4 s
apart), and captures with two and three servers' timed checks overlapping gave the same outcome
as a capture with timed checks alone for all 308 checks (batch durations within 0.06 s). What could
move a verdict is heavy work that takes both cores for a minute: installing a server's
environment (uWSGI compiles with gcc). So an install waits until running timed checks are done
and holds new ones back until it finishes; installs go first, so a stream of timed checks
cannot starve them. A heavy check (overload, database connections: a load generator and a
server on both cores) takes the same turn as an install. Everything else (start-ups, untimed
checks) takes no turn.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class MachineLock:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._timed = 0  # timed checks in progress
        self._installing = False
        self._waiting_installs = 0
        self.install_s = 0.0  # time timed checks were held back by installs and heavy checks

    @contextmanager
    def timed_check(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._installing and not self._waiting_installs)
            self._timed += 1
        try:
            yield
        finally:
            with self._condition:
                self._timed -= 1
                self._condition.notify_all()

    @contextmanager
    def install(self) -> Iterator[None]:
        with self._condition:
            self._waiting_installs += 1
            self._condition.wait_for(lambda: not self._installing and self._timed == 0)
            self._waiting_installs -= 1
            self._installing = True
        started = time.monotonic()
        try:
            yield
        finally:
            with self._condition:
                self.install_s += time.monotonic() - started
                self._installing = False
                self._condition.notify_all()

    # The same turn as an install: it waits for timed checks to end and holds new ones back.
    heavy_check = install
