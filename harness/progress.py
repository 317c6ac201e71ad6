"""Progress lines on stderr: which server and check is running, and how far along the run is.

Servers may be captured in parallel, so every line names its server and printing is locked.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from evidence.vocabulary import CALIBRATION_ID, INTERLEAVED_ID

CAPTURE_WIDE_IDS = (CALIBRATION_ID, INTERLEAVED_ID)
SYMBOLS = {
    "yes": "yes",
    "no": "NO",
    "partial": "partial",
    "not-applicable": "n/a",
    "error": "ERROR",
}


class Progress:
    def __init__(self, total_servers: int, stream: TextIO = sys.stderr) -> None:
        self.total = total_servers
        self.done = 0
        self.stream = stream
        self.started = time.monotonic()
        self._lock = threading.Lock()
        # The once-per-capture files (calibration, the interleaved rounds) take another time
        # than a server: their time stays out of the estimate of what is left.
        self._servers_done = 0
        self._capture_wide_s = 0.0
        self._capture_wide_left = 0

    def _print(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        with self._lock:
            print(
                f"[{int(elapsed // 60):02d}:{int(elapsed % 60):02d}] {text}",
                file=self.stream,
                flush=True,
            )

    def note(self, text: str) -> None:
        """A line about the capture as a whole."""
        self._print(text)

    def server(self, server_id: str) -> ServerProgress:
        return ServerProgress(self, server_id)

    def expect_capture_wide(self, count: int) -> None:
        """``count`` of the items still to come are once-per-capture files, not servers."""
        self._capture_wide_left = count

    def finished(self, server_id: str, record: dict[str, Any], took_s: float) -> None:
        capture_wide = server_id in CAPTURE_WIDE_IDS
        with self._lock:
            self.done += 1
            done = self.done
            if capture_wide:
                self._capture_wide_left = max(0, self._capture_wide_left - 1)
                self._capture_wide_s += took_s
            else:
                self._servers_done += 1
            servers_left = self.total - done - self._capture_wide_left
            servers_done, capture_wide_s = self._servers_done, self._capture_wide_s
        eta = ""
        if servers_left > 0 and servers_done:
            # Wall time per server so far (servers checked side by side share it).
            per_server = (time.monotonic() - self.started - capture_wide_s) / servers_done
            eta = f", about {per_server * servers_left / 60:.1f} min left"
        if "checks" in record:
            outcomes = [check["outcome"] for check in record["checks"]]
            tally = ", ".join(f"{outcomes.count(o)} {SYMBOLS[o]}" for o in SYMBOLS if o in outcomes)
        else:  # a benchmark record: figures measured / failed
            statuses = [figure["status"] for figure in record["results"]]
            tally = f"{statuses.count('ok')} figures, {statuses.count('failed')} failed"
        self._print(f"[{done}/{self.total}] {server_id} recorded in {took_s:.1f} s ({tally}){eta}")


class ServerProgress:
    """Progress of one server; every line starts with its id."""

    def __init__(self, progress: Progress, server_id: str) -> None:
        self.progress, self.server_id = progress, server_id
        self.started = time.monotonic()

    def begin(self) -> None:
        self.progress.note(f"{self.server_id}: begins")

    def step(self, what: str) -> None:
        self.progress.note(f"    {self.server_id}: {what} ...")

    def note(self, text: str) -> None:
        self.progress.note(f"    {self.server_id}: {text}")

    def result(self, outcome: str, summary: str, took_s: float | None = None) -> None:
        took = f" ({took_s:.1f} s)" if took_s is not None else ""
        self.progress.note(
            f"    {self.server_id}: -> {SYMBOLS.get(outcome, outcome)}{took}: {summary[:300]}"
        )

    def end(self, record: dict[str, Any]) -> None:
        self.progress.finished(self.server_id, record, time.monotonic() - self.started)
