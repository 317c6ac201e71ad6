"""One capture at a time per data folder: an flock on ``<data>/.capture.lock``, held for the
capture's whole life, that names its holder.

Two captures writing one data folder at once measure under each other's load and can write
the same files; a ``--resume`` of a capture that is still running would run its checks a
second time beside it and take its files over. So the second one is refused at once, with a
message naming the capture that runs. The kernel drops an flock when its holder exits, however
it exits (Ctrl-C, SIGKILL, a crash), so a lock never outlives its capture and nothing has to be
cleaned up; a capture record that still says ``running`` while the lock is free belongs to a
capture that was stopped without a chance to say so, and ``--resume`` may continue it.

The lock file holds its holder's pid, host, capture id and start time as JSON; it is not
evidence (``evidence.layout.NOT_EVIDENCE``) and is gitignored. Its descriptor is not inherited
by the processes a capture starts (Python opens files non-inheritable), so a server left
running cannot keep the folder locked.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from evidence.layout import DataDir

# How long a refused capture waits for the holder to write which capture it is: the holder
# names itself once it has chosen its capture id (or read the record it resumes), which takes
# a moment after it took the lock.
NAMING_WAIT_S = 15.0
NAMING_POLL_S = 0.1


class DataFolderBusy(Exception):
    """Another capture holds the data folder's lock; the message names it."""


@dataclass(frozen=True)
class Holder:
    """What the lock file says about the process that holds it (fields it has not written yet
    are None)."""

    pid: int | None = None
    host: str | None = None
    capture: str | None = None
    started_at: str | None = None

    def describe(self) -> str:
        who = f"capture {self.capture}" if self.capture else "a capture still choosing its id"
        where = ", ".join(
            part
            for part in (
                f"pid {self.pid}" if self.pid else "",
                f"host {self.host}" if self.host else "",
                f"started at {self.started_at}" if self.started_at else "",
            )
            if part
        )
        return f"{who} ({where or 'it has not said which process it is'})"


def read_holder(path: Path) -> Holder:
    """The holder the lock file names; an empty Holder when it names none (yet)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return Holder()  # being written, or never written
    if not isinstance(document, dict):
        return Holder()
    fields = {name: document.get(name) for name in ("pid", "host", "capture", "started_at")}
    return Holder(**fields)


class CaptureLock:
    """``with CaptureLock(data) as lock:`` holds ``data``'s lock or raises DataFolderBusy."""

    def __init__(self, data: DataDir) -> None:
        self.path = data.lock_path()
        self._descriptor: int | None = None
        self.pid = os.getpid()
        self.host = socket.gethostname()

    def __enter__(self) -> CaptureLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise DataFolderBusy(self._busy_message()) from None
        self._descriptor = descriptor
        self._write({"pid": self.pid, "host": self.host})  # what a previous holder wrote goes
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # releases the flock
            self._descriptor = None

    def holder_fields(self) -> dict[str, Any]:
        """The holder as the capture record stores it."""
        return {"pid": self.pid, "host": self.host}

    def name_capture(self, capture: str, started_at: str) -> None:
        """Say which capture holds the lock, for the message a refused capture prints."""
        self._write(
            {"pid": self.pid, "host": self.host, "capture": capture, "started_at": started_at}
        )

    def _write(self, document: dict[str, Any]) -> None:
        assert self._descriptor is not None, "write only while holding the lock"
        text = json.dumps(document, sort_keys=True).encode() + b"\n"
        os.ftruncate(self._descriptor, 0)
        os.pwrite(self._descriptor, text, 0)

    def _held(self) -> bool:
        """Whether some process still holds the lock (a holder may end before naming itself:
        a ``--changed`` capture with nothing to measure)."""
        descriptor = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(descriptor)
        return False

    def _busy_message(self) -> str:
        holder = read_holder(self.path)
        deadline = time.monotonic() + NAMING_WAIT_S
        while holder.capture is None and time.monotonic() < deadline and self._held():
            time.sleep(NAMING_POLL_S)
            holder = read_holder(self.path)
        return (
            f"another capture is running in {self.path.parent}: {holder.describe()}; only one "
            "capture at a time writes a data folder. Wait for it to end, or stop it (Ctrl-C in "
            f"its terminal{f', or kill {holder.pid}' if holder.pid else ''}) and continue it "
            "later with `capture --resume`"
        )
