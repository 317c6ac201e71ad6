"""Streaming and events: do streamed responses and server-sent events reach the client live?

A ``StreamingHttpResponse`` is only as live as the server and Django's handler let it be: under
WSGI Django must consume an async iterator whole before sending it (and warns), under ASGI the
same holds for a sync iterator. These checks measure what a client sees: when each chunk or
event arrives, what Django logged meanwhile, and whether the server stops a stream whose
client has gone.

The sample views stamp each chunk and event when they produce it (``time.monotonic()`` for
chunks, ``time.time()`` for events). The harness runs on the same machine, so those stamps are
comparable with its own clocks and show whether a late chunk was produced late or held back.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError, aconnect_sse

from harness.browser import BrowserUnavailable, headless_chromium
from harness.checks import Check, CheckContext, Finding
from harness.launcher import Instance
from harness.process import StartError

GROUP = "Streaming and events"

# The streams asked for: long enough to tell live from buffered on a loaded machine, short
# enough to keep the run quick.
STREAM_CHUNKS = 5
STREAM_DELAY_S = 0.4
SSE_EVENTS = 5
SSE_INTERVAL_S = 0.4
# Live: the first item arrives within this share of the time until the last one...
FIRST_WITHIN_SHARE = 0.5
# ...and the arrivals spread over at least this share of the time the view took to produce them.
LIVE_SPREAD_SHARE = 0.5
# Buffered: all items arrive within this share of that time of each other.
BUFFERED_SPREAD_SHARE = 0.25
STREAM_TIMEOUT_S = 20.0  # a whole stream or SSE read, headers included
LOG_SETTLE_S = 0.3  # lets the server's log writer catch up before the log is read
# sse-disconnect
ENDLESS_INTERVAL_S = 0.2
DISCONNECT_AFTER_S = 2.0
STOPPED_WITHIN_S = 5.0
RECORD_POLL_S = 0.05
# Evidence bounds
MAX_KEPT_READS = 200
MAX_KEPT_EVENTS = 100
LOG_EXCERPT_CHARS = 3000
DATA_CHARS = 300

STREAMING_WARNING = "StreamingHttpResponse must consume"
CHUNK_LINE = re.compile(r"chunk (\d+) at (\d+\.\d+)")
SSE_CONTENT_TYPE = "text/event-stream"
STATE_FILE = "sse-events.jsonl"  # the contract of sampleproject/demo/sse_log.py
END_RECORDS = ("cancelled", "finished")

_TIMING_RULE = (
    "Live when the first {item} arrives within the first {first:.0%} of the time until the last "
    "one and the arrivals spread over at least {live:.0%} of the {span:g} s the view takes to "
    "produce them; buffered when all arrive within {buffered:g} s of each other; irregular in "
    "between."
)


def _timing_rule(item: str, span_s: float) -> str:
    return _TIMING_RULE.format(
        item=item,
        first=FIRST_WITHIN_SHARE,
        live=LIVE_SPREAD_SHARE,
        span=span_s,
        buffered=BUFFERED_SPREAD_SHARE * span_s,
    )


STREAM_SPAN_S = (STREAM_CHUNKS - 1) * STREAM_DELAY_S
SSE_SPAN_S = (SSE_EVENTS - 1) * SSE_INTERVAL_S
STREAM_THRESHOLDS = (
    f"{STREAM_CHUNKS} chunks, {STREAM_DELAY_S:g} s apart. A chunk arrives when the client has "
    "read its whole line. "
    + _timing_rule("chunk", STREAM_SPAN_S)
    + f" Outcome: yes = live; no = buffered, or the stream failed (not 200, fewer chunks, or "
    f"not complete within {STREAM_TIMEOUT_S:g} s); partial = irregular."
)
SSE_THRESHOLDS = (
    f"{SSE_EVENTS} events, {SSE_INTERVAL_S:g} s apart, read with httpx-sse. "
    + _timing_rule("event", SSE_SPAN_S)
    + f" Outcome: yes = all events live with Content-Type {SSE_CONTENT_TYPE}; partial = all "
    "events but buffered or irregular, or live with another Content-Type (which httpx-sse "
    "refuses; the check then reads the stream anyway to time it); no = missing events, an "
    f"error status, neither live nor {SSE_CONTENT_TYPE}, or not complete within "
    f"{STREAM_TIMEOUT_S:g} s."
)
BROWSER_THRESHOLDS = (
    f"The sample page opens an EventSource for {SSE_EVENTS} events {SSE_INTERVAL_S:g} s apart "
    "and appends each to a list; a MutationObserver in the page notes when each appears "
    "(seconds after navigation start). "
    + _timing_rule("event", SSE_SPAN_S)
    + f" Outcome: yes = all {SSE_EVENTS} shown live; partial = all shown but buffered or "
    f"irregular; no = fewer shown (the page's status says error or never finished within "
    f"{STREAM_TIMEOUT_S:g} s) or the page failed to load."
)
DISCONNECT_THRESHOLDS = (
    f"An endless stream (an event every {ENDLESS_INTERVAL_S:g} s) on an instance of its own; "
    f"the client closes the connection {DISCONNECT_AFTER_S:g} s after sending the request. "
    "The view appends 'cancelled' (CancelledError or GeneratorExit) or 'finished' to "
    "$SAMPLEPROJECT_STATE_DIR/sse-events.jsonl. The delay is counted from the moment the "
    "client gives up, so it includes the few milliseconds the client takes to close. Outcome: "
    f"yes = such a record within {STOPPED_WITHIN_S:g} s of the disconnect; no = none (the "
    "generator keeps running, or never started because the server buffers the whole stream, "
    "or the request failed)."
)


# --- shared rules -----------------------------------------------------------------------


def classify_arrivals(arrivals_s: Sequence[float], span_s: float) -> str:
    """``live``, ``buffered`` or ``irregular`` for the arrival times (seconds, ascending) of
    items that the view produced over ``span_s`` seconds from first to last."""
    first, last = arrivals_s[0], arrivals_s[-1]
    spread = last - first
    if spread >= LIVE_SPREAD_SHARE * span_s and first <= FIRST_WITHIN_SHARE * last:
        return "live"
    if spread < BUFFERED_SPREAD_SHARE * span_s:
        return "buffered"
    return "irregular"


def _timing_phrase(kind: str, count: int, item: str, arrivals: Sequence[float], gap: float) -> str:
    """The first words of a summary: how ``count`` items arrived."""
    first, last = arrivals[0], arrivals[-1]
    if kind == "live":
        return f"Live: {count} {item}s {gap:g} s apart arrived from {first:.2f} s to {last:.2f} s"
    if kind == "buffered":
        return (
            f"Buffered: all {count} {item}s (sent {gap:g} s apart) arrived together after "
            f"{last:.2f} s"
        )
    return (
        f"Irregular: {count} {item}s (sent {gap:g} s apart) arrived from {first:.2f} s to "
        f"{last:.2f} s"
    )


def _problem(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:300]


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


def _response_facts(response: httpx.Response, origin: float) -> dict[str, Any]:
    headers = response.headers
    return {
        "status": response.status_code,
        "http_version": response.http_version,
        "headers_s": time.monotonic() - origin,
        "content_type": headers.get("content-type"),
        "transfer_encoding": headers.get("transfer-encoding"),
        "content_length": headers.get("content-length"),
        "headers": dict(list(headers.items())[:30]),
    }


# --- stream-sync, stream-async -----------------------------------------------------------


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
            record.update(_response_facts(response, origin))
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
        record["error"] = _problem(error)
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
    summary = _timing_phrase(kind, len(chunks), "chunk", arrivals, STREAM_DELAY_S)
    produced = [chunk["produced_s"] for chunk in chunks if chunk["produced_s"] is not None]
    if kind != "live" and len(produced) == len(chunks):
        summary += f" (the view produced them from {produced[0]:.2f} s to {produced[-1]:.2f} s)"
    outcome = {"live": "yes", "buffered": "no", "irregular": "partial"}[kind]
    return outcome, summary + "."


def _run_stream(endpoint: str) -> Callable[[CheckContext], Finding]:
    def run(context: CheckContext) -> Finding:
        query = f"chunks={STREAM_CHUNKS}&delay={STREAM_DELAY_S:g}"
        url = context.url(endpoint, query)
        position = len(context.shared.log_text())
        record = asyncio.run(read_stream(url))
        time.sleep(LOG_SETTLE_S)
        log = streaming_warnings(context.shared, position)
        outcome, summary = judge_stream(record)
        evidence = {
            "instance": context.shared.describe(),
            "path": context.endpoints[endpoint],
            "query": query,
            **record,
            **log,
        }
        return Finding(outcome, summary + _warning_phrase(log, outcome == "yes"), evidence)

    return run


# --- sse ---------------------------------------------------------------------------------


class _ContentTypeBlindEventSource(EventSource):
    """httpx-sse's parser without its Content-Type check: used only after the real client
    refused a stream, to time the events a lenient client would still have seen."""

    def _check_content_type(self) -> None:
        return None


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _event_record(event: Any, origin: float, origin_wall: float) -> dict[str, Any]:
    try:
        data = json.loads(event.data)
    except ValueError:
        data = None
    sent_at = data.get("at") if isinstance(data, dict) else None
    return {
        "at_s": time.monotonic() - origin,
        "id": event.id,
        "event": event.event,
        "data": event.data[:DATA_CHARS],
        "n": data.get("n") if isinstance(data, dict) else None,
        # Same machine, same wall clock: when the view produced the event.
        "sent_s": sent_at - origin_wall if _is_finite_number(sent_at) else None,
    }


async def _collect_events(
    source: EventSource, record: dict[str, Any], origin: float, origin_wall: float
) -> None:
    events = record["events"]

    async def keep(iterator: Any) -> None:
        async for event in iterator:
            if len(events) < MAX_KEPT_EVENTS:
                events.append(_event_record(event, origin, origin_wall))
            record["events_received"] += 1

    try:
        await keep(source.aiter_sse())
    except SSEError as refusal:
        record["client_refused"] = str(refusal)[:300]
        await keep(_ContentTypeBlindEventSource(source.response).aiter_sse())


async def read_events(url: str, limit_s: float) -> dict[str, Any]:
    """Read server-sent events from ``url`` with httpx-sse for at most ``limit_s`` seconds,
    then close the connection. ``left_at`` is the wall-clock time the client gave up (the
    limit) and ``closed_at`` when its connection was closed."""
    record: dict[str, Any] = {
        "status": None,
        "events": [],
        "events_received": 0,
        "client_refused": None,
        "ended_by_server": False,
        "limit_reached": False,
        "error": None,
    }
    origin, origin_wall = time.monotonic(), time.time()
    record["left_at"] = origin_wall + limit_s
    client = httpx.AsyncClient(timeout=limit_s + 5)
    try:
        async with asyncio.timeout(limit_s), aconnect_sse(client, "GET", url) as source:
            record.update(_response_facts(source.response, origin))
            if source.response.status_code == 200:
                await _collect_events(source, record, origin, origin_wall)
                record["ended_by_server"] = True
    except TimeoutError:
        record["limit_reached"] = True
    except httpx.HTTPError as error:
        record["error"] = _problem(error)
    finally:
        await client.aclose()
    record["closed_at"] = time.time()
    record["closed_s"] = time.monotonic() - origin
    return record


def _is_event_stream(content_type: str | None) -> bool:
    return (content_type or "").partition(";")[0].strip().lower() == SSE_CONTENT_TYPE


def judge_sse(record: dict[str, Any]) -> tuple[str, str]:
    events = record["events"]
    if record["status"] != 200:
        reason = record["error"] or f"HTTP {record['status']}"
        return "no", f"No events: {reason}."
    if len(events) < SSE_EVENTS:
        reason = (
            f"not complete within {STREAM_TIMEOUT_S:g} s"
            if record["limit_reached"]
            else record["error"] or "the stream ended"
        )
        return "no", f"Incomplete: {len(events)} of {SSE_EVENTS} events arrived ({reason})."
    arrivals = [event["at_s"] for event in events]
    kind = classify_arrivals(arrivals, SSE_SPAN_S)
    record["classification"] = kind
    timing = _timing_phrase(kind, len(events), "event", arrivals, SSE_INTERVAL_S)
    if _is_event_stream(record["content_type"]):
        return ("yes" if kind == "live" else "partial"), f"{timing}, as {SSE_CONTENT_TYPE}."
    served_as = f"served as {record['content_type'] or 'no Content-Type'}"
    refused = " (httpx-sse refuses such a stream; read anyway)" if record["client_refused"] else ""
    return ("partial" if kind == "live" else "no"), f"{timing}, but {served_as}{refused}."


def _run_sse(context: CheckContext) -> Finding:
    stream = f"sse-{uuid.uuid4().hex[:12]}"
    query = f"count={SSE_EVENTS}&interval={SSE_INTERVAL_S:g}&id={stream}"
    record = asyncio.run(read_events(context.url("sse", query), STREAM_TIMEOUT_S))
    outcome, summary = judge_sse(record)
    evidence = {
        "instance": context.shared.describe(),
        "path": context.endpoints["sse"],
        "query": query,
        **record,
    }
    return Finding(outcome, summary, evidence)


# --- sse-browser -------------------------------------------------------------------------

# Runs in the page before its own script: notes when each list item and status text appears.
OBSERVER_SCRIPT = """
(() => {
  const seen = { events: [], statuses: [] };
  window.__harnessSeen = seen;
  const note = () => {
    const list = document.getElementById("events");
    const status = document.getElementById("status");
    while (list && seen.events.length < list.children.length) {
      const item = list.children[seen.events.length];
      seen.events.push({ at_ms: performance.now(), text: item.textContent });
    }
    const last = seen.statuses[seen.statuses.length - 1];
    if (status && (!last || last.text !== status.textContent)) {
      seen.statuses.push({ at_ms: performance.now(), text: status.textContent });
    }
  };
  new MutationObserver(note).observe(document, {
    childList: true, subtree: true, characterData: true,
  });
})();
"""
FINISHED = (
    "() => { const s = document.getElementById('status');"
    " return !!s && (s.textContent === 'done' || s.textContent === 'error'); }"
)


def _browser_event(seen: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(seen["text"])
    except (TypeError, ValueError):
        data = None
    return {
        "at_s": seen["at_ms"] / 1000,
        "text": str(seen["text"])[:DATA_CHARS],
        "n": data.get("n") if isinstance(data, dict) else None,
    }


def watch_page(url: str) -> dict[str, Any]:
    """Open ``url`` in headless Chromium; what the page showed and when (BrowserUnavailable
    when there is no browser to use)."""
    record: dict[str, Any] = {"page_status": None, "console_errors": [], "error": None}
    errors = record["console_errors"]

    def note_console(message: Any) -> None:
        if message.type == "error":
            # Which resource failed (a missing favicon is the usual one) is in the location.
            errors.append(f"{message.text[:300]} ({message.location.get('url', '')[:200]})")

    with headless_chromium() as browser:
        # Imported here: harness.browser has already checked that Playwright is installed.
        from playwright.sync_api import Error as PlaywrightError

        page = browser.new_page()
        page.on("console", note_console)
        page.on("pageerror", lambda error: errors.append(str(error)[:300]))
        page.add_init_script(OBSERVER_SCRIPT)
        record["user_agent"] = page.evaluate("navigator.userAgent")
        try:
            response = page.goto(
                url, wait_until="domcontentloaded", timeout=STREAM_TIMEOUT_S * 1000
            )
            record["page_status"] = response.status if response else None
            if record["page_status"] == 200:
                page.wait_for_function(FINISHED, timeout=STREAM_TIMEOUT_S * 1000)
        except PlaywrightError as error:
            record["error"] = str(error).splitlines()[0][:300]
        seen = page.evaluate("window.__harnessSeen || {events: [], statuses: []}")
    record["events"] = [_browser_event(item) for item in seen["events"][:MAX_KEPT_EVENTS]]
    record["statuses"] = [
        {"at_s": item["at_ms"] / 1000, "text": str(item["text"])[:50]} for item in seen["statuses"]
    ]
    record["final_status"] = record["statuses"][-1]["text"] if record["statuses"] else None
    record["console_errors"] = record["console_errors"][:20]
    return record


def judge_browser(record: dict[str, Any]) -> tuple[str, str]:
    events = record["events"]
    if record["page_status"] != 200:
        reason = record["error"] or f"HTTP {record['page_status']}"
        return "no", f"The page did not load: {reason}."
    if len(events) < SSE_EVENTS:
        waited = f" after {STREAM_TIMEOUT_S:g} s" if record["error"] else ""
        return "no", (
            f"Chromium showed {len(events)} of {SSE_EVENTS} events; the page's status was "
            f"'{record['final_status']}'{waited}."
        )
    arrivals = [event["at_s"] for event in events]
    kind = classify_arrivals(arrivals, SSE_SPAN_S)
    record["classification"] = kind
    timing = _timing_phrase(kind, len(events), "event", arrivals, SSE_INTERVAL_S)
    return ("yes" if kind == "live" else "partial"), f"{timing} in Chromium's EventSource."


def _run_browser(context: CheckContext) -> Finding:
    stream = f"browser-{uuid.uuid4().hex[:12]}"
    query = f"count={SSE_EVENTS}&interval={SSE_INTERVAL_S:g}&id={stream}"
    evidence: dict[str, Any] = {
        "instance": context.shared.describe(),
        "path": context.endpoints["sse_page"],
        "query": query,
    }
    try:
        record = watch_page(context.url("sse_page", query))
    except BrowserUnavailable as reason:
        return Finding("error", f"No browser to measure with: {reason}", evidence)
    outcome, summary = judge_browser(record)
    return Finding(outcome, summary, {**evidence, **record})


# --- sse-disconnect ----------------------------------------------------------------------


def stream_records(events_file: Path, stream: str) -> list[dict[str, Any]]:
    """The lifecycle records of ``stream`` (format: sampleproject/demo/sse_log.py)."""
    try:
        text = events_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line being written right now
        if isinstance(record, dict) and record.get("stream") == stream:
            records.append(record)
    return records


def wait_for_end_record(events_file: Path, stream: str, limit_s: float) -> dict[str, Any] | None:
    """The first 'cancelled' or 'finished' record of ``stream`` within ``limit_s`` seconds."""
    deadline = time.monotonic() + limit_s
    while True:
        for record in stream_records(events_file, stream):
            if record.get("event") in END_RECORDS:
                return record
        if time.monotonic() >= deadline:
            return None
        time.sleep(RECORD_POLL_S)


def _short_duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def judge_disconnect(
    client: dict[str, Any], end: dict[str, Any] | None, started: bool
) -> tuple[str, str]:
    """(outcome, summary) from what the client saw and the stream's end record, if any."""
    received = client["events_received"]
    if client["status"] is not None and client["status"] != 200:
        return "no", f"The stream failed: HTTP {client['status']}."
    if not client["limit_reached"]:
        reason = client["error"] or f"the server ended it after {received} events"
        return "no", f"The endless stream broke before the client left: {reason}."
    before = (
        f"after {received} events in {DISCONNECT_AFTER_S:g} s"
        if client["status"] == 200
        else f"no response had begun within {DISCONNECT_AFTER_S:g} s"
    )
    delay = end["at"] - client["left_at"] if end is not None else None
    if delay is not None and delay <= STOPPED_WITHIN_S:
        verb = "cancelled" if end["event"] == "cancelled" else "finished"
        return "yes", (
            f"Stopped: the stream's generator was {verb} {_short_duration(delay)} after the "
            f"client left ({before})."
        )
    running = "kept running" if started else "never started"
    return "no", (
        f"Not stopped: no 'cancelled' record within {STOPPED_WITHIN_S:g} s of the disconnect; "
        f"the generator {running} ({before})."
    )


def _run_disconnect(context: CheckContext) -> Finding:
    if context.launcher is None:
        return Finding("error", "No launcher to start an instance of its own for this check.")
    stream = f"disconnect-{uuid.uuid4().hex[:12]}"
    query = f"count=0&interval={ENDLESS_INTERVAL_S:g}&id={stream}"
    events_file = context.launcher.scratch / "state" / STATE_FILE
    try:
        with context.launcher.launch("http") as instance:
            url = instance.url(context.endpoints["sse"], query)
            client = asyncio.run(read_events(url, DISCONNECT_AFTER_S))
            end = wait_for_end_record(events_file, stream, STOPPED_WITHIN_S)
            records_while_running = stream_records(events_file, stream)
    except StartError as error:
        return Finding(
            "error",
            f"The instance for this check did not start: {error.reason}"[:500],
            {"log_tail": error.log_tail},
        )
    started = any(record.get("event") == "started" for record in records_while_running)
    outcome, summary = judge_disconnect(client, end, started)
    after_stop = stream_records(events_file, stream)
    if end is None and any(record.get("event") in END_RECORDS for record in after_stop):
        summary += " It ended only when the server was stopped."
    evidence = {
        "instance": instance.describe(),
        "shutdown": instance.shutdown.as_record() if instance.shutdown else None,
        "path": context.endpoints["sse"],
        "query": query,
        "disconnect_after_s": DISCONNECT_AFTER_S,
        "client": client,
        "end_record": end,
        "seconds_from_disconnect_to_end_record": end["at"] - client["left_at"] if end else None,
        "records_while_running": records_while_running,
        "records_after_server_stopped": after_stop,
        "server_log": instance.log_text()[instance.log_offset :][-LOG_EXCERPT_CHARS:],
    }
    return Finding(outcome, summary, evidence)


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
    Check(
        timed=True,
        id="sse",
        title="Server-sent events",
        group=GROUP,
        question=(
            "Does an SSE client (httpx-sse) receive the events of an async stream live, "
            "served as text/event-stream?"
        ),
        thresholds=SSE_THRESHOLDS,
        run=_run_sse,
    ),
    Check(
        timed=True,
        id="sse-browser",
        title="Server-sent events in a browser",
        group=GROUP,
        question=(
            "Does a real browser (headless Chromium) show the events of the sample page's "
            "EventSource as they are sent?"
        ),
        thresholds=BROWSER_THRESHOLDS,
        run=_run_browser,
    ),
    Check(
        timed=True,
        id="sse-disconnect",
        title="Stream stopped when the client leaves",
        group=GROUP,
        question=(
            f"When the client of an endless event stream disconnects after "
            f"{DISCONNECT_AFTER_S:g} s, is the server-side generator cancelled or finished "
            f"within {STOPPED_WITHIN_S:g} s?"
        ),
        thresholds=DISCONNECT_THRESHOLDS,
        run=_run_disconnect,
    ),
]
