"""Shared by the template and code checks: edit a scratch file, then poll until it shows."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from harness.checks.development._shared import BODY_SAMPLE_CHARS, REQUEST_TIMEOUT_S, failure

# Polling watchers (runserver, gunicorn, uWSGI: about 1 s) only notice a change to a file they
# have seen once before, and their first look can come seconds after the server answers (a
# large sys.modules takes a while to scan). A developer edits long after loading the page, so
# the template and code checks wait this long between their first request and their edit.
SETTLE_BEFORE_EDIT_S = 2.0
MAX_ATTEMPTS_KEPT = 60


def write_atomically(path: Path, text: str) -> None:
    """Replace a file in one step, so the server never reads it half written."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def poll_until(
    url: str, seen: Callable[[httpx.Response], bool], window_s: float, interval_s: float
) -> dict[str, Any]:
    """Request ``url`` until ``seen`` says yes or the window closes; every attempt is kept."""
    attempts: list[dict[str, Any]] = []
    started = time.monotonic()
    found_after: float | None = None
    with httpx.Client(timeout=min(REQUEST_TIMEOUT_S, window_s)) as client:
        while True:
            sent = time.monotonic() - started
            attempt: dict[str, Any] = {"sent_s": sent}
            try:
                response = client.get(url)
            except httpx.HTTPError as error:
                attempt.update(status=None, error=failure(error), changed=False)
            else:
                changed = response.status_code == 200 and seen(response)
                attempt.update(status=response.status_code, changed=changed)
                if response.status_code != 200:
                    attempt["body_sample"] = response.text[:BODY_SAMPLE_CHARS]
            attempt["answered_s"] = time.monotonic() - started
            attempts.append(attempt)
            if attempt["changed"]:
                found_after = attempt["answered_s"]
                break
            if time.monotonic() - started + interval_s > window_s:
                break
            time.sleep(interval_s)
    kept = attempts if len(attempts) <= MAX_ATTEMPTS_KEPT else attempts[-MAX_ATTEMPTS_KEPT:]
    return {
        "found_after_s": found_after,
        "attempt_count": len(attempts),
        "failed_attempts": sum(1 for attempt in attempts if attempt["status"] is None),
        "attempts": kept,
    }


def unique_marker(kind: str) -> str:
    return f"serving-django-{kind}-{secrets.token_hex(6)}"
