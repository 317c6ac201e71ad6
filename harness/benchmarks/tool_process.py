"""Running a load tool as a child process: its own process group, its output read while it
runs, and the whole group killed at a timeout, when it hangs after announcing its end, or on
any exception (Ctrl-C included), so no load tool outlives the call; recorded in the process
registry meanwhile, so that even a SIGKILLed harness's load tool is ended by the next capture.
h2load and openload share it; each adds what its output means."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.interrupts import interrupts_held
from harness.process_registry import forget, marked_env, new_marker, record_process

POLL_INTERVAL_S = 0.02


@dataclass(frozen=True)
class Finished:
    stdout: str
    stderr: str
    exit_code: int | None  # None: killed (at the timeout, or hung after announcing its end)
    ended_at_s: float  # epoch, comparable with a request log's start times
    # Set when it was killed this many seconds after announcing the end of its main duration.
    killed_after_stopping_s: float | None = None


def run_tool(
    command: Sequence[str],
    timeout_s: float,
    stopping_line: str | None = None,
    stopping_grace_s: float = 2.0,
) -> Finished:
    """Run ``command`` in its own process group; kill the group at the timeout, when it is
    still running ``stopping_grace_s`` after printing a line that starts with
    ``stopping_line`` (it hung), or on any exception, which is then raised again."""
    marker = new_marker()
    process: subprocess.Popen[str] | None = None
    record: Path | None = None
    try:
        with interrupts_held():  # the tool is recorded before a Ctrl-C can leave it unknown
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                start_new_session=True,
                env=marked_env(None, marker),
            )
            record = record_process(process.pid, f"load tool {tool_name(command)}", command, marker)
            output = _OutputReader(process, stopping_line)
        deadline = time.monotonic() + timeout_s
        while process.poll() is None:
            now = time.monotonic()
            stopping_at = output.stopping_at
            hung = stopping_at is not None and now >= stopping_at + stopping_grace_s
            if hung or now >= deadline:
                kill_group(process)
                process.wait()
                stdout, stderr = output.finish()
                grace_s = stopping_grace_s if hung else None
                return Finished(stdout, stderr, None, time.time(), grace_s)
            time.sleep(POLL_INTERVAL_S)
    except BaseException:
        if process is not None:
            kill_group(process)
            process.wait()
        raise
    finally:
        if record is not None:
            forget(record)
    return Finished(*output.finish(), process.returncode, time.time())


def tool_name(command: Sequence[str]) -> str:
    """The tool's name in a command that may start with ``taskset -c N``."""
    names = [Path(part).name for part in command if not part.startswith("-")]
    return next((n for n in names if n not in ("taskset",) and not n.isdigit()), "?")


class _OutputReader:
    """Reads stdout and stderr while the tool runs (a full pipe would block it), noting when
    it printed its stopping line."""

    def __init__(self, process: subprocess.Popen[str], stopping_line: str | None) -> None:
        self.stopping_at: float | None = None
        self._stopping_line = stopping_line
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._threads = [
            threading.Thread(target=self._read, args=(process.stdout, self._stdout), daemon=True),
            threading.Thread(target=self._read, args=(process.stderr, self._stderr), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read(self, stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)
            if (
                self.stopping_at is None
                and self._stopping_line is not None
                and line.startswith(self._stopping_line)
            ):
                self.stopping_at = time.monotonic()
        stream.close()

    def finish(self) -> tuple[str, str]:
        """Everything printed, once the process has ended (its pipes then reach their end)."""
        for thread in self._threads:
            thread.join()
        return "".join(self._stdout), "".join(self._stderr)


def kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def fresh_log_path(scratch: Path, prefix: str) -> Path:
    """A new empty file in ``scratch`` for one run's per-request log (h2load appends to an
    existing file instead of replacing it)."""
    scratch.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=".log", dir=scratch)
    os.close(handle)
    return Path(name)
