"""The server's own list of options, stored with every run: the evidence behind each claim
that the pinned version has no option for a behaviour (a definition's ``absent``)."""

from __future__ import annotations

import subprocess
from typing import Any

from harness.definitions import fill_command
from harness.endpoints import SAMPLEPROJECT_DIR
from harness.launcher import Launcher

HELP_TIMEOUT_S = 30
HELP_TEXT_LIMIT = 60_000  # characters kept; a help text is a few thousand


def help_record(launcher: Launcher) -> dict[str, Any] | None:
    """What the definition's ``help`` command printed, with its command and exit code; None
    for a definition that declares none."""
    definition = launcher.definition
    if definition.help is None:
        return None
    argv = fill_command(definition.help, {"python": str(launcher.environment.python)})
    candidate = launcher.environment.bin_dir / argv[0]
    if "/" not in argv[0] and candidate.exists():
        argv[0] = str(candidate)
    shown = fill_command(definition.help, {"python": "python"})
    try:
        completed = subprocess.run(
            argv,
            cwd=SAMPLEPROJECT_DIR,
            env=launcher.variables(False, {}),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=HELP_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as error:
        return {"command": shown, "exit_code": None, "text": "", "error": str(error)[:500]}
    text = completed.stdout + completed.stderr
    return {"command": shown, "exit_code": completed.returncode, "text": text[:HELP_TEXT_LIMIT]}


def absent_claims_contradicted(definition_record: dict[str, Any], help_text: str) -> list[str]:
    """The options a definition says do not exist but whose flag the help text lists."""
    return [
        claim["option"]
        for claim in definition_record.get("absent", [])
        if _lists_flag(help_text, claim["option"])
    ]


def _lists_flag(help_text: str, flag: str) -> bool:
    """Whether ``flag`` appears as a whole option in the help text (``--http2`` is not listed
    by ``--http2-cleartext``)."""
    start = help_text.find(flag)
    while start != -1:
        end = start + len(flag)
        before = help_text[start - 1] if start else " "
        after = help_text[end] if end < len(help_text) else " "
        if not (before.isalnum() or before in "-_") and not (after.isalnum() or after in "-_"):
            return True
        start = help_text.find(flag, end)
    return False
