"""Lifecycle records of /sse and /sse/sync streams, shared by every worker process of a server.

The harness checks whether a server tells Django when a client goes away. It reads this file
itself (it does not import Django), so the format is a contract:

* Path: ``<SAMPLEPROJECT_STATE_DIR>/sse-events.jsonl`` (see settings.py for the default).
* UTF-8 text, one JSON object per line, appended in the order the events happen:

  ``{"stream": "<id>", "event": "<event>", "at": <float>, "sent": <int>}``

  - ``stream``: the ``id`` query parameter of the /sse or /sse/sync request (a generated hex
    id if absent).
  - ``event``: ``started`` when the server first asks the stream for data; ``finished``
    when it ends after its ``count`` events; ``cancelled`` when it is stopped early, either
    by ``asyncio.CancelledError`` (the server cancelled the task) or ``GeneratorExit`` (the
    server closed the iterator).
  - ``at``: ``time.time()`` when the record was written.
  - ``sent``: how many events the stream had handed to the server by then.

* A stream that neither finished nor was cancelled has only its ``started`` line: the server
  kept it running after the client left, or the process died.
* Readers skip lines that are not complete JSON objects, so a reader racing a writer never
  fails.

Each record is one ``os.write`` on a file opened with ``O_APPEND``: the kernel places every
write at the end of the file, so processes share the file without locks and lines do not
interleave.
"""

import json
import os
import time
from pathlib import Path
from typing import Literal

from django.conf import settings

EVENTS_FILE_NAME = "sse-events.jsonl"

Event = Literal["started", "finished", "cancelled"]


def events_path() -> Path:
    """Where the records go; read from settings on every call so tests can redirect it."""
    return Path(settings.SAMPLEPROJECT_STATE_DIR) / EVENTS_FILE_NAME


def record_event(stream: str, event: Event, sent: int) -> None:
    """Append one lifecycle record for ``stream``."""
    path = events_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"stream": stream, "event": event, "at": time.time(), "sent": sent}
    line = (json.dumps(record) + "\n").encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line)
    finally:
        os.close(descriptor)


def read_events(stream: str) -> list[dict]:
    """The records of ``stream``, oldest first; empty when the file does not exist yet."""
    try:
        text = events_path().read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("stream") == stream:
            records.append(record)
    return records
