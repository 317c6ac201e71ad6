"""Raising this process's soft limit of open files (RLIMIT_NOFILE) toward its hard limit.

The idle-connections scenario holds thousands of sockets in one client process, and the server
it starts inherits this process's limits: on a machine whose soft limit is the common 1024, the
figure would be the limit's, not the server's. Raising the soft limit up to the hard one needs
no privilege; what the hard limit refuses is the machine's fault, and said so.
"""

from __future__ import annotations

import resource


class TooFewOpenFiles(Exception):
    """The hard limit is below what is needed; the message says both numbers."""


def open_files_limit() -> int | None:
    """The soft limit now; None when unlimited."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def ensure_open_files(needed: int) -> int | None:
    """Raise the soft limit to at least ``needed`` (never lower it); returns the soft limit
    now (None: unlimited). TooFewOpenFiles when the hard limit is lower than ``needed``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return open_files_limit()
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise TooFewOpenFiles(
            f"{needed} open files are needed, but this process's hard limit is {hard} "
            "(raise it, e.g. in /etc/security/limits.conf or the container's ulimits)"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return open_files_limit()
