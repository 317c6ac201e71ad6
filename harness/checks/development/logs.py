"""Reading a development server's log: the part since a mark, restart lines, readable lines."""

from __future__ import annotations

import re
from pathlib import Path

from harness.launcher import Instance

LOG_EXCERPT_CHARS = 3000
# Lines in which a server says it reloads or restarts (after an edit, in the log).
RESTART_LINE = re.compile(r"reload|restart", re.IGNORECASE)

# The time stamp and pid that gunicorn ("[2026-01-01 10:00:00 +0000] [42] ") and Django
# ("2026-01-01 10:00:00,123 ") put before each line: noise in a one-line summary.
_LINE_PREFIX = re.compile(
    r"^(\[\d{4}-\d\d-\d\d [^\]]*\]\s*(\[\d+\]\s*)?|\d{4}-\d\d-\d\d [\d:,.]+\s+)"
)


def readable_log_line(line: str, limit: int = 160, project_dir: Path | None = None) -> str:
    """A log line for a summary: without time stamp, scratch paths or excess length."""
    line = _LINE_PREFIX.sub("", line.strip())
    if project_dir is not None:
        line = line.replace(f"{project_dir}/", "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def log_since(instance: Instance, offset: int) -> str:
    return instance.log_text()[offset:][-LOG_EXCERPT_CHARS:]
