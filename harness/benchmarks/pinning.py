"""Server and load generator on separate CPUs, so they do not compete for one core.

The server's command runs under ``taskset -c <server cpu>``; the harness pins its own
benchmark thread to the load CPU, so the load tools and samplers it starts inherit that CPU.
On a one-CPU machine nothing is pinned, and the run records that.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Pinning:
    server_cpu: int | None
    load_cpu: int | None

    @property
    def pinned(self) -> bool:
        return self.server_cpu is not None and self.load_cpu is not None

    def server_prefix(self) -> list[str]:
        """Put before a server's command: children (workers) inherit the affinity."""
        return ["taskset", "-c", str(self.server_cpu)] if self.pinned else []

    def load_prefix(self) -> list[str]:
        """Put before a load tool's command when it is not started from the pinned thread."""
        return ["taskset", "-c", str(self.load_cpu)] if self.pinned else []

    def pin_current_thread_to_load_cpu(self) -> None:
        """Pin the calling thread; processes and threads it starts afterwards inherit this."""
        if self.pinned:
            os.sched_setaffinity(0, {self.load_cpu})

    def as_record(self) -> dict[str, Any]:
        return {
            "server_cpus": str(self.server_cpu) if self.pinned else "not pinned",
            "load_cpus": str(self.load_cpu) if self.pinned else "not pinned",
        }


def choose_pinning() -> Pinning:
    """The first allowed CPU for the server, the second for the load generator."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return Pinning(None, None)
    return Pinning(allowed[0], allowed[1])
