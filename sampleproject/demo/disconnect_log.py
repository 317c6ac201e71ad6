"""Lifecycle records of the /disconnect/* views, shared by every worker process of a server.

The harness's client-disconnect check leaves in the middle of these views and reads this file
to see what the server and Django did next. It does not import Django, so the format is a
contract:

* Path: ``<SAMPLEPROJECT_STATE_DIR>/disconnects.jsonl`` (see settings.py for the default).
* UTF-8 text, one JSON object per line, appended in the order the events happen:

  ``{"request": "<id>", "event": "<event>", "at": <float>, "pid": <int>, ...}``

  - ``request``: the ``id`` query parameter of the /disconnect/* request.
  - ``event``:

    - ``started``: the work began (for a stream: the server first asked it for data);
    - ``step`` (with ``n``): unit ``n`` of the work is done (for /disconnect/query*: row ``n``
      of the query, recorded by SQLite as it evaluates the row);
    - ``completed``: the work ran to its end (the query returned all its rows);
    - ``cancelled`` (with ``how``: ``CancelledError`` or ``GeneratorExit``): the view or its
      generator was interrupted, by the task's cancellation or by the server closing the
      iterator;
    - ``finally``: the ``finally`` block of the view or of its generator ran;
    - ``request_finished`` (with ``connection_open``): Django's ``request_finished`` signal
      fired for this request; ``connection_open`` says whether the database connection of
      the thread that handled it was still open after Django's own receiver
      (``close_old_connections``, which closes it at the end of a request) had run.

  - ``at``: ``time.time()`` when the record was written; ``pid``: the worker process.

* A request whose records stop at ``started`` or ``step`` was left running; one without
  ``request_finished`` never told Django it had ended, so whatever Django closes at the end of a
  request (its database connections above all) stayed open.
* Readers skip lines that are not complete JSON objects, so a reader racing a writer never
  fails.

Each record is one ``os.write`` on a file opened with ``O_APPEND``, as in demo/sse_log.py:
processes share the file without locks and lines do not interleave.
"""

import json
import os
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs

from django.conf import settings
from django.db import connections

RECORDS_FILE_NAME = "disconnects.jsonl"
PATH_MARK = "/disconnect/"

Event = Literal["started", "step", "completed", "cancelled", "finally", "request_finished"]

# The id of the /disconnect/* request this context serves. request_started sets it and
# request_finished reads it: under WSGI both run in the worker's thread (or greenlet); under
# ASGI Django sends both from the request's handler task, and asgiref carries a variable set in a
# sync receiver back into that task, so each request sees only its own id.
_current_request: ContextVar[str | None] = ContextVar("disconnect_request", default=None)


def records_path() -> Path:
    """Where the records go; read from settings on every call so tests can redirect it."""
    return Path(settings.SAMPLEPROJECT_STATE_DIR) / RECORDS_FILE_NAME


def record(request: str, event: Event, **details: Any) -> None:
    """Append one lifecycle record for ``request``."""
    path = records_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"request": request, "event": event, "at": time.time(), "pid": os.getpid(), **details}
    line = (json.dumps(entry) + "\n").encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line)
    finally:
        os.close(descriptor)


def read_records(request: str) -> list[dict]:
    """The records of ``request``, oldest first; empty when the file does not exist yet."""
    try:
        text = records_path().read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("request") == request:
            records.append(entry)
    return records


def tracked_request(environ: dict | None, scope: dict | None) -> str | None:
    """The ``id`` of a /disconnect/* request from the WSGI environ or the ASGI scope that
    request_started carries; None for any other request."""
    if environ is not None:
        path, query = environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")
    elif scope is not None:
        path, query = scope.get("path", ""), scope.get("query_string", b"")
        # Servers send bytes, as the ASGI spec says; Django's AsyncClient sends a str.
        if isinstance(query, bytes):
            query = query.decode("latin-1")
    else:
        return None
    if PATH_MARK not in path:
        return None
    ids = parse_qs(query).get("id")
    return ids[0] if ids else None


def on_request_started(
    sender: object, environ: dict | None = None, scope: dict | None = None, **kwargs: Any
) -> None:
    """Remember which /disconnect/* request (if any) this context now serves; every request
    sets it, so an id never outlives its request in a reused thread."""
    _current_request.set(tracked_request(environ, scope))


def on_request_finished(sender: object, **kwargs: Any) -> None:
    """Record that Django heard the end of a /disconnect/* request, and whether its thread's
    database connection was closed. Connected after Django's own close_old_connections
    (django.db connects it when Django is set up, before any app is ready), so it sees the
    connection as that receiver left it."""
    request = _current_request.get()
    if request is None:
        return
    _current_request.set(None)
    connection_open = connections["default"].connection is not None
    record(request, "request_finished", connection_open=connection_open)
