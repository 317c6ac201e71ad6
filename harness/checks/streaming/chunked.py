"""The stream-sync and stream-async checks: does a StreamingHttpResponse arrive chunk by chunk?"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from harness.checks import Check, CheckContext, Finding
from harness.checks.streaming._shared import GROUP, LOG_EXCERPT_CHARS, problem, response_facts
from harness.checks.streaming.timing import (
    STREAM_CHUNKS,
    STREAM_DELAY_S,
    STREAM_SPAN_S,
    STREAM_TIMEOUT_S,
    classify_arrivals,
    timing_phrase,
    timing_rule,
)
from harness.launcher import Instance

LOG_SETTLE_S = 0.3  # lets the server's log writer catch up before the log is read
MAX_KEPT_READS = 200

STREAMING_WARNING = "StreamingHttpResponse must consume"
CHUNK_LINE = re.compile(r"chunk (\d+) at (\d+\.\d+)")

STREAM_THRESHOLDS = (
    f"{STREAM_CHUNKS} chunks, {STREAM_DELAY_S:g} s apart. A chunk arrives when the client has "
    "read its whole line. "
    + timing_rule("chunk", STREAM_SPAN_S)
    + f" Outcome: yes = live; no = buffered, or the stream failed (not 200, fewer chunks, or "
    f"not complete within {STREAM_TIMEOUT_S:g} s); partial = irregular. A buffered stream is "
    "Django's own doing when the iterator is not the interface's kind (a sync one under ASGI, "
    "an async one under WSGI): Django's StreamingHttpResponse then consumes it whole before "
    "handing the server any of it, and warns."
)
# Where Django buffers an iterator of the other kind (read in the pinned Django's
# django/http/response.py), by the interface that serves it.
DJANGO_BUFFERS = {
    "asgi": (
        "Under ASGI, Django's StreamingHttpResponse.__aiter__ consumes a sync iterator whole "
        "with sync_to_async(list) before yielding any of it, and warns "
        "(django/http/response.py)"
    ),
    "wsgi": (
        "Under WSGI, Django's StreamingHttpResponse.__iter__ consumes an async iterator whole "
        "with async_to_sync before returning any of it, and warns (django/http/response.py)"
    ),
}
# The generator each stream check's view uses.
GENERATORS = {"stream_sync": "sync", "stream_async": "async"}


# --- what Django logged --------------------------------------------------------------------


def _new_log(instance: Instance, position: int) -> tuple[str, str]:
    """The server log before ``position`` and what was written after it."""
    text = instance.log_text()
    return text[:position], text[position:]


def _warning_sentence(line: str) -> str:
    """Django's warning message from a log line, up to its first full stop."""
    message = line[line.index(STREAMING_WARNING) :]
    return message.split(". ", 1)[0].rstrip(".") + "."


def streaming_warnings(instance: Instance, position: int) -> dict[str, Any]:
    """Django's streaming warnings logged after ``position``, and whether one came earlier.

    Python shows a warning once per code location and process, so a server that already
    logged one (for example while serving a static file) does not log it again.
    """
    earlier, new = _new_log(instance, position)
    lines = [line.strip()[:500] for line in new.splitlines() if STREAMING_WARNING in line]
    return {
        "django_warnings": lines[:5],
        "streaming_warnings_logged_earlier": earlier.count(STREAMING_WARNING),
        "server_log_during_request": new[-LOG_EXCERPT_CHARS:],
    }


def _warning_phrase(log: dict[str, Any], live: bool) -> str:
    """What Django logged, for the summary; nothing when a live stream drew no warning."""
    if log["django_warnings"]:
        return f' Django warned: "{_warning_sentence(log["django_warnings"][0])}"'
    if live:
        return ""
    if log["streaming_warnings_logged_earlier"]:
        return (
            " No new Django warning (this server process had logged a streaming warning before; "
            "Python shows each warning once)."
        )
    return " No Django warning in the server log."


# --- reading and judging the stream ----------------------------------------------------------


def _chunk_line(line: bytes, at_s: float, origin: float) -> dict[str, Any]:
    text = line.decode("utf-8", errors="replace")
    found = CHUNK_LINE.search(text)
    return {
        "at_s": at_s,
        "number": int(found.group(1)) if found else None,
        # Same machine, same monotonic clock: when the view produced the chunk.
        "produced_s": float(found.group(2)) - origin if found else None,
        "text": text[:100],
    }


async def read_stream(url: str) -> dict[str, Any]:
    """GET ``url`` and note when each raw read and each complete line arrived."""
    record: dict[str, Any] = {"status": None, "reads": [], "chunks": [], "error": None}
    origin = time.monotonic()
    try:
        async with (
            asyncio.timeout(STREAM_TIMEOUT_S),
            httpx.AsyncClient(timeout=STREAM_TIMEOUT_S) as client,
            client.stream("GET", url) as response,
        ):
            record.update(response_facts(response, origin))
            pending = b""
            async for data in response.aiter_raw():
                at_s = time.monotonic() - origin
                if len(record["reads"]) < MAX_KEPT_READS:
                    record["reads"].append({"at_s": at_s, "bytes": len(data)})
                *complete, pending = (pending + data).split(b"\n")
                record["chunks"].extend(_chunk_line(line, at_s, origin) for line in complete)
            if pending:
                record["chunks"].append(_chunk_line(pending, time.monotonic() - origin, origin))
    except TimeoutError:
        record["error"] = f"no complete response within {STREAM_TIMEOUT_S:g} s"
    except httpx.HTTPError as error:
        record["error"] = problem(error)
    record["total_s"] = time.monotonic() - origin
    record["first_byte_s"] = record["reads"][0]["at_s"] if record["reads"] else None
    return record


def judge_stream(record: dict[str, Any]) -> tuple[str, str]:
    """(outcome, summary without the warning part) for one stream read."""
    chunks = record["chunks"]
    if record["status"] != 200:
        reason = record["error"] or f"HTTP {record['status']}"
        return "no", f"The stream failed: {reason}."
    if len(chunks) < STREAM_CHUNKS or record["error"]:
        reason = f"; {record['error']}" if record["error"] else ""
        return "no", f"Incomplete: {len(chunks)} of {STREAM_CHUNKS} chunks arrived{reason}."
    arrivals = [chunk["at_s"] for chunk in chunks]
    kind = classify_arrivals(arrivals, STREAM_SPAN_S)
    record["classification"] = kind
    summary = timing_phrase(kind, len(chunks), "chunk", arrivals, STREAM_DELAY_S)
    produced = [chunk["produced_s"] for chunk in chunks if chunk["produced_s"] is not None]
    if kind != "live" and len(produced) == len(chunks):
        summary += f" (the view produced them from {produced[0]:.2f} s to {produced[-1]:.2f} s)"
    outcome = {"live": "yes", "buffered": "no", "irregular": "partial"}[kind]
    return outcome, summary + "."


def stream_cause(interface: str, generator: str, record: dict[str, Any]) -> tuple[str, str]:
    """(cause, detail) of a stream that was not live: Django's when it arrived buffered from an
    iterator of the other kind than the interface's (Django buffers those whole whatever the
    server does; the summary says whether its warning was logged); the server's otherwise (a
    failure, an irregular stream, or the interface's own kind held back)."""
    native = {"asgi": "async", "wsgi": "sync"}.get(interface)
    if record.get("classification") != "buffered" or generator == native:
        return "server", ""
    return "django", f"{DJANGO_BUFFERS[interface]}."


def _run_stream(endpoint: str) -> Callable[[CheckContext], Finding]:
    def run(context: CheckContext) -> Finding:
        query = f"chunks={STREAM_CHUNKS}&delay={STREAM_DELAY_S:g}"
        url = context.url(endpoint, query)
        position = len(context.shared.log_text())
        record = asyncio.run(read_stream(url))
        time.sleep(LOG_SETTLE_S)
        log = streaming_warnings(context.shared, position)
        outcome, summary = judge_stream(record)
        generator = GENERATORS[endpoint]
        evidence = {
            "instance": context.shared.describe(),
            "path": context.endpoints[endpoint],
            "query": query,
            "generator": generator,
            **record,
            **log,
        }
        cause, detail = stream_cause(context.server.interface, generator, record)
        summary += _warning_phrase(log, outcome == "yes")
        return Finding(outcome, summary, evidence, cause, detail)

    return run


CHECKS = [
    Check(
        timed=True,
        id="stream-sync",
        title="Streaming from a sync iterator",
        group=GROUP,
        question=(
            "Does a StreamingHttpResponse fed by a sync generator arrive chunk by chunk, "
            "not all at the end?"
        ),
        thresholds=STREAM_THRESHOLDS,
        run=_run_stream("stream_sync"),
    ),
    Check(
        timed=True,
        id="stream-async",
        title="Streaming from an async iterator",
        group=GROUP,
        question=(
            "Does a StreamingHttpResponse fed by an async generator arrive chunk by chunk, "
            "not all at the end?"
        ),
        thresholds=STREAM_THRESHOLDS,
        run=_run_stream("stream_async"),
    ),
]
