"""The workflows run third-party actions pinned to a commit (a tag can be moved under us) with
least privilege; the version workflow runs one job per combination the harness plans, then
merges them in the one job that may write."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import yaml

from evidence.layout import REPO_ROOT
from harness.definitions import load_definitions
from harness.environments import project_requirements
from harness.versions import combinations, load_versions

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


def _versions_workflow() -> dict:
    workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "versions.yml").read_text())
    # YAML 1.1 reads the key `on` as true.
    workflow["on"] = workflow.pop(True)
    return workflow


def test_the_version_workflow_runs_one_job_per_planned_combination_then_merges() -> None:
    workflow = _versions_workflow()
    jobs = workflow["jobs"]
    assert set(workflow["on"]) == {"workflow_dispatch", "schedule"}
    plan, measure, merge = jobs["plan"], jobs["measure"], jobs["merge"]
    assert plan["outputs"]["matrix"] == "${{ steps.plan.outputs.matrix }}"
    assert measure["needs"] == "plan"
    assert measure["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert measure["strategy"]["fail-fast"] is False
    commands = " ".join(step.get("run", "") for step in measure["steps"])
    for option in ("--server", "--release", "--django", "--python"):
        assert option in commands
    assert "scripts/nox -s versions --" in commands
    assert any("upload-artifact" in step.get("uses", "") for step in measure["steps"])
    assert merge["needs"] == ["plan", "measure"]
    merge_commands = " ".join(step.get("run", "") for step in merge["steps"])
    assert "scripts/nox -s merge_versions" in merge_commands and "gh pr create" in merge_commands
    # The merge is told what was planned, so a job that wrote nothing is named, not forgotten.
    assert "--planned" in merge_commands
    assert any(
        "needs.plan.outputs.matrix" in str(step.get("env", {}).get("PLANNED", ""))
        for step in merge["steps"]
    )
    # Only the merge job writes; every job says what it may do.
    writing = {
        name
        for name, job in jobs.items()
        if any(grant == "write" for grant in job["permissions"].values())
    }
    assert writing == {"merge"}
    assert merge["permissions"] == {"contents": "write", "pull-requests": "write"}
    for job in jobs.values():
        for step in job["steps"]:
            if "actions/checkout" in step.get("uses", ""):
                assert step["with"]["persist-credentials"] is False


def test_the_plan_command_prints_one_matrix_entry_per_planned_combination() -> None:
    planned = combinations(
        load_versions(load_definitions(), project_requirements()), sorted(load_definitions())
    )
    printed = subprocess.run(
        [sys.executable, "-m", "harness", "versions-matrix"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    matrix = json.loads(printed.stdout)
    assert matrix == {"include": [combination.as_record() for combination in planned]}
    assert len(matrix["include"]) == len(planned) > 14
    assert set(matrix["include"][0]) == {"server", "release", "django", "python"}
