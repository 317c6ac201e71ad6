"""Development mode: static files, template changes and code changes while writing code.

Each check starts its own instance in development mode (DJANGO_DEV_MODE=1: DEBUG on, no
WhiteNoise, no collectstatic), as a developer would run the server on their machine. The
template and code checks edit a scratch copy of the project, never ``sampleproject/``.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from harness.checks import Check, CheckContext, Finding
from harness.launcher import Instance, NotDeclared
from harness.process import StartError

REQUEST_TIMEOUT_S = 10.0
# Polling watchers (runserver, gunicorn, uWSGI: about 1 s) only notice a change to a file they
# have seen once before, and their first look can come seconds after the server answers (a
# large sys.modules takes a while to scan). A developer edits long after loading the page, so
# the template and code checks wait this long between their first request and their edit.
SETTLE_BEFORE_EDIT_S = 2.0
BODY_SAMPLE_CHARS = 300
LOG_EXCERPT_CHARS = 3000

# dev-template-reload: the first request after the edit may come before the server can see it
# (file timestamps, runserver's 1 s stat poll), so requests are repeated for this long.
TEMPLATE_WINDOW_S = 3.0
TEMPLATE_POLL_S = 0.2
HOME_TEMPLATE = Path("demo/templates/demo/home.html")
# Lines in which a server says it reloads or restarts (after an edit, in the log).
RESTART_LINE = re.compile(r"reload|restart", re.IGNORECASE)

# dev-code-reload
CODE_WINDOW_S = 10.0
CODE_POLL_S = 0.2
VIEW_SOURCE = Path("demo/views/basic.py")
VIEW_LINE = 'JsonResponse({"message": "hello", "view": "sync"})'
MAX_ATTEMPTS_KEPT = 60

STATIC_THRESHOLDS = (
    "yes when the stylesheet linked from the home page answers 200 with a text/css "
    "Content-Type; partial when it answers 200 with another Content-Type (browsers refuse it "
    "under X-Content-Type-Options: nosniff); no for any other status or a failed request."
)
TEMPLATE_THRESHOLDS = (
    f"/ is requested once; {SETTLE_BEFORE_EDIT_S:g} s later a marker is written into the home "
    f"template, then / is requested every {TEMPLATE_POLL_S:g} s for {TEMPLATE_WINDOW_S:g} s "
    "(the wait and the repeats absorb file-timestamp granularity and polling watchers such as "
    "runserver's 1 s stat reloader). yes when the marker appears in that window and the log "
    "shows no restart; partial when it appears but the log shows the server restarted to show "
    "it; no when it never appears."
)
CODE_THRESHOLDS = (
    "The server runs with its own reload option; the view is requested once, "
    f"{SETTLE_BEFORE_EDIT_S:g} s later its JSON message is changed in the project's source, "
    f"then the view is requested every {CODE_POLL_S:g} s. yes when the new message is served "
    f"within {CODE_WINDOW_S:g} s of the edit; no when it is not (old code still served, or no "
    "answer); not-applicable when the server has no reload option."
)


def _failure(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:300]


def _needs_launcher(context: CheckContext) -> Finding | None:
    if context.launcher is None:
        return Finding("error", "The check could not start its own instance (no launcher).")
    return None


def _start_failed(error: StartError, what: str) -> Finding:
    return Finding(
        "error",
        f"The server did not start {what}: {error.reason}"[:500],
        {"log_tail": error.log_tail},
    )


# The time stamp and pid that gunicorn ("[2026-01-01 10:00:00 +0000] [42] ") and Django
# ("2026-01-01 10:00:00,123 ") put before each line: noise in a one-line summary.
_LINE_PREFIX = re.compile(
    r"^(\[\d{4}-\d\d-\d\d [^\]]*\]\s*(\[\d+\]\s*)?|\d{4}-\d\d-\d\d [\d:,.]+\s+)"
)


def readable_log_line(line: str, limit: int = 160, project_dir: Path | None = None) -> str:
    """A log line for a summary: without time stamp, scratch paths or excess length."""
    line = _LINE_PREFIX.sub("", line.strip())
    if project_dir is not None:
        line = line.replace(f"{project_dir}/", "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _log_since(instance: Instance, offset: int) -> str:
    return instance.log_text()[offset:][-LOG_EXCERPT_CHARS:]


# dev-static ---------------------------------------------------------------------------------


class _StylesheetLinks(HTMLParser):
    """Collects the href of every <link rel="stylesheet">."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        rel = (values.get("rel") or "").lower().split()
        if tag == "link" and "stylesheet" in rel and values.get("href"):
            self.hrefs.append(values["href"] or "")


def stylesheet_hrefs(html: str) -> list[str]:
    """The stylesheet links of an HTML page, in document order."""
    parser = _StylesheetLinks()
    parser.feed(html)
    return parser.hrefs


def judge_static(status: int | None, content_type: str) -> str:
    if status != 200:
        return "no"
    return "yes" if content_type.split(";")[0].strip().lower() == "text/css" else "partial"


def _fetch_stylesheet(instance: Instance, home_path: str) -> tuple[Finding | None, dict]:
    """The home page and its first stylesheet; a Finding when the page itself is unusable."""
    evidence: dict[str, Any] = {"instance": instance.describe(), "home_path": home_path}
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        home = client.get(instance.url(home_path))
        evidence["home_status"] = home.status_code
        if home.status_code != 200:
            return Finding(
                "error",
                f"The home page answered {home.status_code} in development mode, so its "
                "stylesheet link could not be read.",
                evidence,
            ), evidence
        hrefs = stylesheet_hrefs(home.text)
        evidence["stylesheet_hrefs"] = hrefs
        if not hrefs:
            return Finding("error", "The home page links no stylesheet.", evidence), evidence
        css_url = urljoin(str(home.url), hrefs[0])
        evidence["stylesheet_path"] = urlsplit(css_url).path
        try:
            css = client.get(css_url)
        except httpx.HTTPError as error:
            evidence.update(status=None, error=_failure(error))
            return None, evidence
    evidence.update(
        status=css.status_code,
        content_type=css.headers.get("content-type", ""),
        size_bytes=len(css.content),
        headers=dict(css.headers),
        body_sample=css.text[:BODY_SAMPLE_CHARS],
    )
    return None, evidence


def _static_summary(outcome: str, evidence: dict[str, Any]) -> str:
    path = evidence["stylesheet_path"]
    if outcome == "yes":
        return (
            f"Served: {path} answered 200 {evidence['content_type']} "
            f"({evidence['size_bytes']:,} bytes) with DEBUG on and no WhiteNoise."
        )
    if outcome == "partial":
        return (
            f"Served with the wrong type: {path} answered 200 as "
            f"{evidence['content_type'] or 'no Content-Type'}, not text/css."
        )
    status = evidence["status"]
    answer = f"answered {status}" if status is not None else f"failed ({evidence['error']})"
    return (
        f"Not served: {path} {answer} in development mode; serve /static/ with WhiteNoise or "
        "a proxy in front of the server."
    )


def run_dev_static(context: CheckContext) -> Finding:
    problem = _needs_launcher(context)
    if problem:
        return problem
    try:
        with context.launcher.launch("http", dev_mode=True) as instance:
            finding, evidence = _fetch_stylesheet(instance, context.endpoints["home"])
            evidence["log_excerpt"] = _log_since(instance, instance.log_offset)
    except StartError as error:
        return _start_failed(error, "in development mode")
    if finding is not None:
        return finding
    outcome = judge_static(evidence["status"], evidence.get("content_type", ""))
    return Finding(outcome, _static_summary(outcome, evidence), evidence)


# Shared by the template and code checks --------------------------------------------------------


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
                attempt.update(status=None, error=_failure(error), changed=False)
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


# dev-template-reload --------------------------------------------------------------------------


def with_template_marker(template: str, marker: str) -> str:
    """The template with the marker inside its last block: in a template that extends another,
    text outside the blocks is never rendered, so plain appending would not show."""
    line = f'<p class="reload-marker">{marker}</p>\n'
    position = template.rfind("{% endblock %}")
    if position == -1:
        return template + line
    return template[:position] + line + template[position:]


def judge_template(found_after_s: float | None, restarted: bool) -> str:
    if found_after_s is None:
        return "no"
    return "partial" if restarted else "yes"


def _template_summary(outcome: str, measured: dict[str, Any]) -> str:
    if outcome == "no":
        return (
            f"Not reloaded: {measured['attempt_count']} requests in {TEMPLATE_WINDOW_S:g} s "
            "after the template changed all showed the old page; a restart is needed."
        )
    first = measured["attempts"][0]["changed"] if measured["attempts"] else False
    when = "on the first request" if first else f"after {measured['found_after_s']:.2f} s"
    if outcome == "partial":
        return f"Shown {when}, but the server restarted its process to show it."
    return f"Reloaded: the changed template was served {when}, without a restart."


def run_dev_template_reload(context: CheckContext) -> Finding:
    problem = _needs_launcher(context)
    if problem:
        return problem
    marker = unique_marker("template")
    home_path = context.endpoints["home"]
    try:
        with context.launcher.launch("http", dev_mode=True, project_copy=True) as instance:
            evidence: dict[str, Any] = {"instance": instance.describe(), "marker": marker}
            before = httpx.get(instance.url(home_path), timeout=REQUEST_TIMEOUT_S)
            evidence["before"] = {"status": before.status_code, "has_marker": marker in before.text}
            if before.status_code != 200:
                return Finding(
                    "error",
                    f"The home page answered {before.status_code} before the template changed.",
                    evidence,
                )
            template = instance.project_dir / HOME_TEMPLATE
            time.sleep(SETTLE_BEFORE_EDIT_S)
            log_mark = len(instance.log_text())
            write_atomically(template, with_template_marker(template.read_text(), marker))
            measured = poll_until(
                instance.url(home_path),
                lambda response: marker in response.text,
                TEMPLATE_WINDOW_S,
                TEMPLATE_POLL_S,
            )
            time.sleep(TEMPLATE_POLL_S)  # let a restart line reach the log
            log_after = _log_since(instance, log_mark)
    except StartError as error:
        return _start_failed(error, "in development mode")
    restart_lines = [line for line in log_after.splitlines() if RESTART_LINE.search(line)]
    outcome = judge_template(measured["found_after_s"], bool(restart_lines))
    evidence.update(
        template=str(HOME_TEMPLATE),
        window_s=TEMPLATE_WINDOW_S,
        **measured,
        restart_lines=restart_lines[:20],
        log_after_change=log_after,
    )
    return Finding(outcome, _template_summary(outcome, measured), evidence)


# dev-code-reload ------------------------------------------------------------------------------


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
    problem = _needs_launcher(context)
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
            log_after = _log_since(instance, log_mark)
    except NotDeclared as error:
        return Finding("not-applicable", str(error))
    except StartError as error:
        return _start_failed(error, "with its reload option")
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


CHECKS = [
    Check(
        id="dev-static",
        title="Static files in development",
        group="Development",
        question=(
            "In development mode (DEBUG on, no WhiteNoise, no collectstatic), is the CSS file "
            "that the home page links served?"
        ),
        thresholds=STATIC_THRESHOLDS,
        run=run_dev_static,
    ),
    Check(
        id="dev-template-reload",
        timed=True,
        title="Template changes without a restart",
        group="Development",
        question=(
            "After the home template changes on disk (in a scratch copy of the project), does "
            "the next request show the new content without a restart?"
        ),
        thresholds=TEMPLATE_THRESHOLDS,
        run=run_dev_template_reload,
    ),
    Check(
        id="dev-code-reload",
        timed=True,
        title="Code reload",
        group="Development",
        question=(
            "With the server's own reload option, does a changed view show up within "
            f"{CODE_WINDOW_S:g} s?"
        ),
        thresholds=CODE_THRESHOLDS,
        run=run_dev_code_reload,
    ),
]
