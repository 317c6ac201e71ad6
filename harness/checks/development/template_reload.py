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

TEMPLATE_THRESHOLDS = (
    f"/ is requested once; {SETTLE_BEFORE_EDIT_S:g} s later a marker is written into the home "
    f"template, then / is requested every {TEMPLATE_POLL_S:g} s for {TEMPLATE_WINDOW_S:g} s "
    "(the wait and the repeats absorb file-timestamp granularity and polling watchers such as "
    "runserver's 1 s stat reloader). yes when the marker appears in that window and the log "
    "shows no restart; partial when it appears but the log shows the server restarted to show "
    "it; no when it never appears."
)


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
    problem = needs_launcher(context)
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
            log_after = log_since(instance, log_mark)
    except StartError as error:
        return start_failed(error, "in development mode")
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
