"""Progress lines on stderr: which server and check is running, and how far along the run is."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

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
        self.server_started = self.started
        self.server = ""

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def _clock(self) -> str:
        elapsed = time.monotonic() - self.started
        return f"{int(elapsed // 60):02d}:{int(elapsed % 60):02d}"

    def begin_server(self, server_id: str) -> None:
        self.server, self.server_started = server_id, time.monotonic()
        self._print(f"[{self._clock()}] [{self.done + 1}/{self.total}] {server_id}")

    def step(self, what: str) -> None:
        self._print(f"[{self._clock()}]     {self.server}: {what} ...")

    def note(self, text: str) -> None:
        self._print(f"[{self._clock()}]     {self.server}: {text}")

    def result(self, outcome: str, summary: str) -> None:
        self._print(f"[{self._clock()}]       -> {SYMBOLS.get(outcome, outcome)}: {summary}")

    def end_server(self, record: dict[str, Any]) -> None:
        self.done += 1
        took = time.monotonic() - self.server_started
        remaining = self.total - self.done
        eta = ""
        if remaining:
            per_server = (time.monotonic() - self.started) / self.done
            eta = f", about {per_server * remaining / 60:.1f} min left"
        self._print(
            f"[{self._clock()}] [{self.done}/{self.total}] {self.server} recorded in "
            f"{took:.1f} s{eta}"
        )
