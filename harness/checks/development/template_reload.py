"""The dev-template-reload check: does a changed template show without a restart?"""

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
from harness.checks.development.logs import RESTART_LINE, log_since
from harness.process import StartError

# dev-template-reload: the first request after the edit may come before the server can see it
# (file timestamps, runserver's 1 s stat poll), so requests are repeated for this long.
TEMPLATE_WINDOW_S = 3.0
TEMPLATE_POLL_S = 0.2
HOME_TEMPLATE = Path("demo/templates/demo/home.html")
# Every worker process must have rendered the page before the edit, or a worker that had not
# would read the new template and look like a reload (gunicorn's 3 sync workers did): the page
# is requested this many times per worker, each on a connection of its own, before the edit,
# and again once the change first shows, where every answer must show it.
REQUESTS_PER_WORKER = 4

TEMPLATE_THRESHOLDS = (
    f"/ is requested {REQUESTS_PER_WORKER} times per worker process, each on a connection of "
    "its own, so that every worker has rendered it; "
    f"{SETTLE_BEFORE_EDIT_S:g} s later a marker is written into the home "
    f"template, then / is requested every {TEMPLATE_POLL_S:g} s for {TEMPLATE_WINDOW_S:g} s "
    "(the wait and the repeats absorb file-timestamp granularity and polling watchers such as "
    "runserver's 1 s stat reloader); once the marker appears, / is requested again "
    f"{REQUESTS_PER_WORKER} times per worker on connections of their own. yes when the marker "
    "appears in that window, every later answer shows it, and the log shows no restart; partial "
    "when it appears but the log shows the server restarted to show it; no when it never "
    "appears, or some later answers still show the old page (a worker that had rendered it "
    "keeps it until restarted)."
)


def with_template_marker(template: str, marker: str) -> str:
    """The template with the marker inside its last block: in a template that extends another,
    text outside the blocks is never rendered, so plain appending would not show."""
    line = f'<p class="reload-marker">{marker}</p>\n'
    position = template.rfind("{% endblock %}")
    if position == -1:
        return template + line
    return template[:position] + line + template[position:]


def judge_template(found_after_s: float | None, restarted: bool, stale_after: int = 0) -> str:
    if found_after_s is None or stale_after:
        return "no"
    return "partial" if restarted else "yes"


def fresh_requests(url: str, count: int) -> list[dict[str, Any]]:
    """``count`` GETs, each on a connection of its own (so that the server's workers share
    them as they share new connections): each one's status and body."""
    answers = []
    for _ in range(count):
        try:
            response = httpx.get(url, timeout=REQUEST_TIMEOUT_S, headers={"Connection": "close"})
        except httpx.HTTPError as error:
            answers.append({"status": None, "text": f"{type(error).__name__}: {error}"})
        else:
            answers.append({"status": response.status_code, "text": response.text})
    return answers


def _template_summary(outcome: str, measured: dict[str, Any]) -> str:
    if outcome == "no" and measured.get("stale_after"):
        return (
            f"Not reloaded: the change showed after {measured['found_after_s']:.2f} s, but then "
            f"{measured['stale_after']} of {measured['confirm_count']} answers (each on a new "
            "connection) still showed the old page: a worker that had rendered it keeps it "
            "until restarted (the first answer came from one that had not)."
        )
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
    problem = needs_launcher(context)
    if problem:
        return problem
    marker = unique_marker("template")
    home_path = context.endpoints["home"]
    try:
        with context.launcher.launch("http", dev_mode=True, project_copy=True) as instance:
            evidence: dict[str, Any] = {"instance": instance.describe(), "marker": marker}
            per_server = REQUESTS_PER_WORKER * max(1, instance.workers)
            before = fresh_requests(instance.url(home_path), per_server)
            statuses = sorted({str(answer["status"]) for answer in before})
            evidence["before"] = {"requests": per_server, "statuses": statuses}
            if statuses != ["200"]:
                return Finding(
                    "error",
                    f"The home page answered {', '.join(statuses)} before the template changed.",
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
            if measured["found_after_s"] is not None:
                after = fresh_requests(instance.url(home_path), per_server)
                measured["confirm_count"] = len(after)
                measured["stale_after"] = sum(marker not in answer["text"] for answer in after)
            time.sleep(TEMPLATE_POLL_S)  # let a restart line reach the log
            log_after = log_since(instance, log_mark)
    except StartError as error:
        return start_failed(error, "in development mode")
    restart_lines = [line for line in log_after.splitlines() if RESTART_LINE.search(line)]
    outcome = judge_template(
        measured["found_after_s"], bool(restart_lines), measured.get("stale_after", 0)
    )
    evidence.update(
        template=str(HOME_TEMPLATE),
        window_s=TEMPLATE_WINDOW_S,
        **measured,
        restart_lines=restart_lines[:20],
        log_after_change=log_after,
    )
    return Finding(outcome, _template_summary(outcome, measured), evidence)


CHECK = Check(
    id="dev-template-reload",
    timed=True,
    title="Template changes without a restart",
    group=GROUP,
    question=(
        "After the home template changes on disk (in a scratch copy of the project), does "
        "the next request show the new content without a restart?"
    ),
    thresholds=TEMPLATE_THRESHOLDS,
    run=run_dev_template_reload,
)
