"""The dev-code-reload check: with the server's reload option, does a changed view show up?"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from harness.checks import Check, CheckContext, Finding
from harness.checks.development._shared import (
    GROUP,
    REQUEST_TIMEOUT_S,
    needs_launcher,
    start_failed,
)
from harness.checks.development.editing import (
    SETTLE_BEFORE_EDIT_S,
    poll_until,
    unique_marker,
    write_atomically,
)
from harness.checks.development.logs import (
    LOG_EXCERPT_CHARS,
    RESTART_LINE,
    log_since,
    readable_log_line,
)
from harness.launcher import NotDeclared
from harness.process import StartError

CODE_WINDOW_S = 10.0
CODE_POLL_S = 0.2
VIEW_SOURCE = Path("demo/views/basic.py")
VIEW_LINE = 'sized_json({"message": "hello", "view": "sync"})'

CODE_THRESHOLDS = (
    "The server runs with its own reload option; the view is requested once, "
    f"{SETTLE_BEFORE_EDIT_S:g} s later its JSON message is changed in the project's source, "
    f"then the view is requested every {CODE_POLL_S:g} s. yes when the new message is served "
    f"within {CODE_WINDOW_S:g} s of the edit; no when it is not (old code still served, or no "
    "answer); not-applicable when the server has no reload option."
)


def with_changed_message(source: str, marker: str) -> str | None:
    """The view module with the sync JSON view's message replaced, or None if not found."""
    if VIEW_LINE not in source:
        return None
    return source.replace(VIEW_LINE, VIEW_LINE.replace('"hello"', f'"{marker}"'), 1)


def _message(response: httpx.Response) -> str | None:
    try:
        return response.json().get("message")
    except ValueError:
        return None


def _code_summary(found: bool, measured: dict[str, Any], restart_lines: list[str]) -> str:
    """``restart_lines`` come already shortened by readable_log_line."""
    failed = measured["failed_attempts"]
    gap = f"; {failed} request(s) failed while it restarted" if failed else ""
    if found:
        return (
            f"Reloaded: the changed view answered {measured['found_after_s']:.2f} s after "
            f"the edit{gap}."
        )
    statuses = [attempt["status"] for attempt in measured["attempts"]]
    if statuses and all(status is None for status in statuses[-5:]):
        return (
            f"Not reloaded: the server stopped answering after the edit and had not come back "
            f"within {CODE_WINDOW_S:g} s."
        )
    noticed = f', although the server logged "{restart_lines[0]}"' if restart_lines else ""
    return (
        f"Not reloaded: {measured['attempt_count']} requests in {CODE_WINDOW_S:g} s after the "
        f"edit still got the old code{gap}{noticed}."
    )


def run_dev_code_reload(context: CheckContext) -> Finding:
    problem = needs_launcher(context)
    if problem:
        return problem
    if not context.launcher.supports("reload"):
        return Finding(
            "not-applicable",
            f"{context.server.name} has no option to reload changed code; restart it after "
            "each change (or run it under a file watcher).",
            {"commands": sorted(context.server.commands)},
        )
    marker = unique_marker("code")
    json_path = context.endpoints["json_sync"]
    try:
        with context.launcher.launch("reload", dev_mode=True, project_copy=True) as instance:
            evidence: dict[str, Any] = {"instance": instance.describe(), "marker": marker}
            before = httpx.get(instance.url(json_path), timeout=REQUEST_TIMEOUT_S)
            evidence["before"] = {"status": before.status_code, "message": _message(before)}
            source_path = instance.project_dir / VIEW_SOURCE
            changed = with_changed_message(source_path.read_text(), marker)
            if changed is None:
                return Finding(
                    "error",
                    f"{VIEW_SOURCE} no longer contains {VIEW_LINE!r}; the check needs updating.",
                    evidence,
                )
            time.sleep(SETTLE_BEFORE_EDIT_S)
            log_mark = len(instance.log_text())
            write_atomically(source_path, changed)
            measured = poll_until(
                instance.url(json_path),
                lambda response: _message(response) == marker,
                CODE_WINDOW_S,
                CODE_POLL_S,
            )
            log_after = log_since(instance, log_mark)
    except NotDeclared as error:
        return Finding("not-applicable", str(error))
    except StartError as error:
        return start_failed(error, "with its reload option")
    found = measured["found_after_s"] is not None
    restart_lines = [line for line in log_after.splitlines() if RESTART_LINE.search(line)]
    evidence.update(
        view_source=str(VIEW_SOURCE),
        window_s=CODE_WINDOW_S,
        **measured,
        restart_lines=restart_lines[:20],
        log_after_change=log_after,
        startup_log=instance.log_text()[: instance.log_offset][-LOG_EXCERPT_CHARS:],
    )
    readable = [readable_log_line(line, 120, instance.project_dir) for line in restart_lines]
    summary = _code_summary(found, measured, readable)
    return Finding("yes" if found else "no", summary, evidence)


CHECK = Check(
    id="dev-code-reload",
    timed=True,
    title="Code reload",
    group=GROUP,
    question=(
        "With the server's own reload option, does a changed view show up within "
        f"{CODE_WINDOW_S:g} s?"
    ),
    thresholds=CODE_THRESHOLDS,
    run=run_dev_code_reload,
)
