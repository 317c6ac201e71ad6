"""openload's per-request records (``--records``): what became of each request due in the
measured window, on one time line that starts with the window.

Each line is ``due sent done outcome port``: milliseconds from the window's start (``-`` for a
request never sent, or never done), an HTTP status or how the request failed, and the local
port of the connection it went on (``-`` for none). The format is written by openload.mjs
(its header describes it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# How a request without a status ended (openload.mjs): lost with its connection (reset or
# closed by the server), given up after --timeout, or still waiting when the run ended.
FAILURES = ("errored", "timed_out", "unanswered")


@dataclass(frozen=True)
class RequestRecord:
    due_ms: float
    sent_ms: float | None  # None: never sent (it waited for a connection to the end)
    done_ms: float | None  # None: unanswered when the run ended
    outcome: str  # "200", "503", ... or one of FAILURES
    port: int | None = None  # the client's port of the connection it was sent on

    @property
    def answered(self) -> bool:
        return self.outcome.isdigit() and 200 <= int(self.outcome) < 400

    @property
    def latency_ms(self) -> float | None:
        """From due to answer (waiting for a connection included); None unless answered."""
        return None if not self.answered or self.done_ms is None else self.done_ms - self.due_ms


def _milliseconds(field: str) -> float | None:
    return None if field == "-" else float(field)


def parse_records(text: str) -> list[RequestRecord]:
    """The records of ``text``, by due time; a line that is not a record is refused."""
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 5 or not (fields[3].isdigit() or fields[3] in FAILURES):
            raise ValueError(f"openload record line {number} is not 'due sent done outcome port'")
        due = _milliseconds(fields[0])
        if due is None or not (fields[4] == "-" or fields[4].isdigit()):
            raise ValueError(f"openload record line {number} has no due time or a bad port")
        port = None if fields[4] == "-" else int(fields[4])
        records.append(
            RequestRecord(due, _milliseconds(fields[1]), _milliseconds(fields[2]), fields[3], port)
        )
    return sorted(records, key=lambda record: record.due_ms)


def read_records(path: Path) -> list[RequestRecord]:
    return parse_records(path.read_text(encoding="utf-8"))
