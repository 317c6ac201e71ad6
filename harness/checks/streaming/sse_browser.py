"""The sse-browser check: does headless Chromium's EventSource show the events as they are sent?"""

from __future__ import annotations

import json
import uuid
from typing import Any

from harness.browser import BrowserUnavailable, headless_chromium
from harness.checks import Check, CheckContext, Finding
from harness.checks.streaming._shared import (
    DATA_CHARS,
    GROUP,
    IDIOM_RULE,
    MAX_KEPT_EVENTS,
    idiom_sentence,
)
from harness.checks.streaming.timing import (
    SSE_EVENTS,
    SSE_INTERVAL_S,
    SSE_SPAN_S,
    STREAM_TIMEOUT_S,
    classify_arrivals,
    timing_phrase,
    timing_rule,
)
from harness.endpoints import sse_idiom

BROWSER_THRESHOLDS = (
    f"The sample page opens an EventSource for {SSE_EVENTS} events {SSE_INTERVAL_S:g} s apart "
    "and appends each to a list; a MutationObserver in the page notes when each appears "
    "(seconds after navigation start). The page's ?idiom= chooses the stream it listens to. "
    + IDIOM_RULE
    + " "
    + timing_rule("event", SSE_SPAN_S)
    + f" Outcome: yes = all {SSE_EVENTS} shown live; partial = all shown but buffered or "
    f"irregular; no = fewer shown (the page's status says error or never finished within "
    f"{STREAM_TIMEOUT_S:g} s) or the page failed to load."
)

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
    timing = timing_phrase(kind, len(events), "event", arrivals, SSE_INTERVAL_S)
    return ("yes" if kind == "live" else "partial"), f"{timing} in Chromium's EventSource."


def _run_browser(context: CheckContext) -> Finding:
    stream = f"browser-{uuid.uuid4().hex[:12]}"
    idiom = sse_idiom(context.server.interface)
    query = f"idiom={idiom.generator}&count={SSE_EVENTS}&interval={SSE_INTERVAL_S:g}&id={stream}"
    evidence: dict[str, Any] = {
        "instance": context.shared.describe(),
        "path": context.endpoints["sse_page"],
        "query": query,
        "idiom": idiom.as_record(),
    }
    try:
        record = watch_page(context.url("sse_page", query))
    except BrowserUnavailable as reason:
        return Finding("error", f"No browser to measure with: {reason}", evidence)
    outcome, summary = judge_browser(record)
    stream_path = context.endpoints[idiom.endpoint]
    cost = idiom_sentence(idiom, stream_path, context.capacity(), context.capacity_text())
    return Finding(outcome, f"{summary} {cost}", {**evidence, **record})


CHECK = Check(
    timed=True,
    id="sse-browser",
    title="Server-sent events in a browser",
    group=GROUP,
    question=(
        "Does a real browser (headless Chromium) show the events of the sample page's "
        "EventSource as they are sent, from the stream of the interface's idiom?"
    ),
    thresholds=BROWSER_THRESHOLDS,
    run=_run_browser,
)
