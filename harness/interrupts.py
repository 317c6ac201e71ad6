"""Holding Ctrl-C and SIGTERM for the moment a child process is started and recorded.

A signal that lands between ``fork`` and the line that records the child (in the process list
that ``end_all`` kills, or in the registry the next capture reads) raises KeyboardInterrupt
with the child alive and known to nobody: it outlives the run. Under load, ``exec`` takes long
enough for a Ctrl-C to land there. Signals received meanwhile are delivered again, to the
handlers that were in place, once the child is recorded.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Run the block with Ctrl-C and SIGTERM held; deliver any that came once it ends.

    Python runs signal handlers in the main thread only, so in another thread there is
    nothing to hold (the main thread's interrupt then ends what this one started)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda signum, _frame: received.append(signum))
        for signum in HELD_SIGNALS
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(received):
            signal.raise_signal(signum)  # to the handler in place: raise, default or ignore
