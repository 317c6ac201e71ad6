"""What a server's log says went wrong during a run: the exceptions its tracebacks ended in,
counted.

Locust sees a 500 and nothing more; the sample project logs every 500 with its traceback
(Django's ``django.request`` logger, to stderr), whose last line names the cause: a pool that
timed out (``psycopg_pool.PoolTimeout``), PostgreSQL refusing a connection past
``max_connections`` (``OperationalError: ... too many clients already``), and so on. A chained
traceback ("The above exception was the direct cause...") is counted once, by the exception it
ended in.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

TRACEBACK = "Traceback (most recent call last):"
CHAINED = (
    "The above exception was the direct cause of the following exception:",
    "During handling of the above exception, another exception occurred:",
)
MESSAGE_LIMIT = 300
TOP = 5
# Per-run numbers (ports, process ids, addresses) would split one cause into many lines.
_RUN_NUMBERS = re.compile(r"(port |pid=|0x)[0-9a-fA-F]+")


def normalised(line: str) -> str:
    return _RUN_NUMBERS.sub(lambda match: f"{match.group(1)}N", line.strip())[:MESSAGE_LIMIT]


def final_exceptions(text: str) -> Counter[str]:
    """Each traceback's final exception line (the one a chain ended in), counted."""
    found: Counter[str] = Counter()
    pending: str | None = None  # the last traceback's exception, unless a chain continues it
    in_traceback = False
    for line in text.splitlines():
        if line.startswith(TRACEBACK):
            if pending is not None:
                found[pending] += 1
            pending, in_traceback = None, True
        elif line.strip() in CHAINED:
            pending = None  # the next traceback names the exception this one led to
        elif in_traceback and line.strip() and not line[0].isspace():
            # The first unindented line after the frames is the exception and its message.
            pending, in_traceback = normalised(line), False
    if pending is not None:
        found[pending] += 1
    return found


def server_errors(text: str, top: int = TOP) -> list[dict[str, Any]]:
    """The ``top`` most frequent final exceptions of a log: [{"error", "count"}]."""
    return [
        {"error": error, "count": count} for error, count in final_exceptions(text).most_common(top)
    ]
