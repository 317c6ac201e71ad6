"""The workflows run third-party actions pinned to a commit (a tag can be moved under us) with
least privilege."""

from __future__ import annotations

import re

from evidence.layout import REPO_ROOT

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
USES = re.compile(r"^\s*(?:-\s*)?uses:\s*(\S+)", re.MULTILINE)


def test_every_action_is_pinned_to_a_commit() -> None:
    assert WORKFLOWS
    for workflow in WORKFLOWS:
        for action in USES.findall(workflow.read_text()):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), (workflow.name, action)


def test_workflows_grant_nothing_by_default() -> None:
    for workflow in WORKFLOWS:
        assert re.search(r"^permissions: \{\}$", workflow.read_text(), re.MULTILINE), workflow.name
