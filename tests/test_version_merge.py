"""``merge-versions``: the data folders of version jobs (one combination each, on runners of
their own) become one version capture per machine, whose files are the jobs' own but for
their capture id; anything that would make the merge untrue refuses it, naming files, and
writes nothing. Synthetic job folders (written with evidence's writers) for the rules; one
test merges the folders of two real version captures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from evidence.documents import read_document, write_document
from evidence.layout import REPO_ROOT, DataDir
from evidence.validation import check_data, load_evidence
from harness import version_merge
from harness.version_merge import MergeRefused, merge_versions
from harness.versions import HARNESS_PYTHON
from tests import synthetic

MACHINE = synthetic.MACHINE_ID
FIRST, SECOND = "20260101T010000Z", "20260101T020000Z"


def _name(release: str) -> str:
    return f"alpha@{release}+django-6.1.3+python-3.12"


def _record(capture: str, releases: list[str], **changes: Any) -> dict[str, Any]:
    defaults = {
        "machine": MACHINE,
        "git_commit": "a" * 40,
        "git_dirty": False,
        "code_fingerprint": "b" * 64,
        "speed_probe": {"python_loop_ms": 30.5, "method": "synthetic"},
        "fingerprints": {},
        "carried_forward": {},
    }
    return synthetic.version_capture(capture, releases, **{**defaults, **changes})


def _job(
    root: Path,
    capture: str,
    releases: list[str],
    machine: dict[str, Any] | None = None,
    **changes: Any,
) -> Path:
    """A version job's data folder, as `capture --versions` writes it: its machine, its
    record, one file per release (release 1.0 is the current combination)."""
    data = DataDir(root)
    machine = machine or synthetic.machine()
    record = _record(capture, releases, machine=machine["id"], **changes)
    write_document(data.machine_path(machine["id"]), machine, "machine")
    write_document(data.capture_path(machine["id"], capture), record, "capture")
    for release in releases:
        document = synthetic.run("alpha", capture=capture, outcome="yes")
        document["machine"] = machine["id"]
        document["axis"] = {
            "server_release": release,
            "django": "6.1.3",
            "python": "3.12.8",
            "current": release == "1.0",
        }
        write_document(data.version_path(machine["id"], capture, _name(release)), document, "run")
    return root


def _nothing_written(into: Path) -> None:
    assert not (into / "captures").exists() and not (into / "versions").exists()
    assert not [path for path in into.parent.iterdir() if ".data-merge-" in path.name]


def test_two_jobs_become_one_capture_whose_files_are_theirs_but_for_its_id(
    tmp_path: Path,
) -> None:
    first = _job(tmp_path / "job-1", FIRST, ["0.9"])
    second = _job(tmp_path / "job-2", SECOND, ["1.0"], finished_at=synthetic.at(SECOND, 300))
    into = tmp_path / "data"
    synthetic.write_data(into, [synthetic.run()])  # a data folder with a matrix run already

    (merged,) = merge_versions([second, first], into)

    # A capture id is the time it started: the earliest job's, moved on a second because
    # that job's id is taken by the job itself (the merged capture is a new one).
    assert merged.capture == "20260101T010001Z"
    record = read_document(DataDir(into).capture_path(MACHINE, merged.capture), "capture")
    assert record["kind"] == "versions" and record["state"] == "complete"
    assert [c["release"] for c in record["combinations"]] == ["0.9", "1.0"]
    assert record["started_at"] == synthetic.at(FIRST, 0)
    assert record["finished_at"] == synthetic.at(SECOND, 300)
    assert record["merged_from"] == [
        {"machine": MACHINE, "capture": FIRST, "speed_probe": _record(FIRST, [])["speed_probe"]},
        {"machine": MACHINE, "capture": SECOND, "speed_probe": _record(FIRST, [])["speed_probe"]},
    ]
    assert "speed_probe" not in record
    for job, capture, release in ((first, FIRST, "0.9"), (second, SECOND, "1.0")):
        source = DataDir(job).version_path(MACHINE, capture, _name(release)).read_text()
        written = DataDir(into).version_path(MACHINE, merged.capture, _name(release))
        expected = source.replace(f'"capture": "{capture}"', f'"capture": "{merged.capture}"')
        assert written.read_text() == expected and expected != source
    evidence, problems = check_data(into)
    assert problems == []
    assert len(evidence.versions) == 2 and len(evidence.runs) == 1
    assert list(evidence.version_captures) == [(MACHINE, merged.capture)]


def test_the_merged_capture_is_complete_only_if_every_job_was(tmp_path: Path) -> None:
    first = _job(tmp_path / "job-1", FIRST, ["0.9"], state="interrupted")
    second = _job(tmp_path / "job-2", SECOND, ["1.0"])
    (merged,) = merge_versions([first, second], tmp_path / "data")
    assert merged.record["state"] == "interrupted"
    assert check_data(tmp_path / "data")[1] == []


def test_a_planned_combination_no_job_recorded_is_named_and_the_capture_is_not_complete(
    tmp_path: Path,
) -> None:
    first = _job(tmp_path / "job-1", FIRST, ["0.9"])
    second = _job(tmp_path / "job-2", SECOND, ["1.0"])
    planned = [
        {"server": "alpha", "release": release, "django": "6.1.3", "python": "3.12"}
        for release in ("0.8", "0.9", "1.0")
    ]
    (merged,) = merge_versions([first, second], tmp_path / "data", planned=planned)
    assert merged.record["state"] == "interrupted"
    assert list(merged.record["not_captured"]) == ["alpha@0.8+django-6.1.3+python-3.12"]
    assert (
        "no job's data holds it"
        in merged.record["not_captured"]["alpha@0.8+django-6.1.3+python-3.12"]
    )
    assert check_data(tmp_path / "data")[1] == []
    # Planned and recorded alike: complete.
    (whole,) = merge_versions([first, second], tmp_path / "other", planned=planned[1:])
    assert whole.record["state"] == "complete" and whole.record["not_captured"] == {}


def test_a_combination_two_jobs_measured_is_refused_naming_both_files(tmp_path: Path) -> None:
    first = _job(tmp_path / "job-1", FIRST, ["0.9", "1.0"])
    second = _job(tmp_path / "job-2", SECOND, ["1.0"])
    into = tmp_path / "data"

    with pytest.raises(MergeRefused) as refused:
        merge_versions([first, second], into)

    assert refused.value.problems == [
        f"{DataDir(second).version_path(MACHINE, SECOND, _name('1.0'))}: combinations: "
        f"{_name('1.0')} is also a combination of another job "
        f"({DataDir(first).version_path(MACHINE, FIRST, _name('1.0'))}); merge each "
        "combination from one job only"
    ]
    _nothing_written(into)


def test_a_job_folder_that_does_not_validate_is_refused_naming_file_and_field(
    tmp_path: Path,
) -> None:
    first = _job(tmp_path / "job-1", FIRST, ["0.9"])
    second = _job(tmp_path / "job-2", SECOND, ["1.0"])
    bad = DataDir(second).version_path(MACHINE, SECOND, _name("1.0"))
    document = json.loads(bad.read_text())
    document["profile"] = "slow"
    bad.write_text(json.dumps(document))
    matrix = synthetic.write_data(tmp_path / "job-3", [synthetic.run()])
    into = tmp_path / "data"

    with pytest.raises(MergeRefused) as refused:
        merge_versions([first, second, matrix.root, tmp_path / "missing"], into)

    problems = refused.value.problems
    assert any(line.startswith(f"{bad}: profile: 'slow' is not one of") for line in problems)
    assert f"{matrix.run_path(MACHINE, synthetic.CAPTURE_ID, 'alpha')}: a matrix file" in "\n".join(
        problems
    )
    assert f"{tmp_path / 'missing'}: no such data directory" in problems
    _nothing_written(into)


def test_jobs_of_other_machine_ids_stay_captures_of_their_own(tmp_path: Path) -> None:
    other = {**synthetic.machine("other-runner-kind"), "cpu_model": "Another CPU"}
    first = _job(tmp_path / "job-1", FIRST, ["0.9"])
    second = _job(tmp_path / "job-2", SECOND, ["1.0"], machine=other)

    merged = merge_versions([first, second], tmp_path / "data")

    assert [(capture.machine, len(capture.jobs)) for capture in merged] == [
        (MACHINE, 1),
        ("other-runner-kind", 1),
    ]
    evidence, problems = check_data(tmp_path / "data")
    assert problems == [] and len(evidence.version_captures) == 2


def test_one_machine_id_on_other_hardware_or_other_code_is_refused(tmp_path: Path) -> None:
    bigger = {**synthetic.machine(), "cores": 4}
    first = _job(tmp_path / "job-1", FIRST, ["0.9"])
    second = _job(tmp_path / "job-2", SECOND, ["1.0"], machine=bigger, code_fingerprint="c" * 64)
    into = tmp_path / "data"

    with pytest.raises(MergeRefused) as refused:
        merge_versions([first, second], into)

    hardware, code = refused.value.problems
    assert hardware.startswith(f"{DataDir(second).machine_path(MACHINE)}: cores: describes other")
    assert "cores 4 there, cores 2 here" in hardware
    assert code.startswith(
        f"{DataDir(second).capture_path(MACHINE, SECOND)}: code_fingerprint: '{'c' * 64}'"
    )
    _nothing_written(into)


def test_an_error_placing_the_record_leaves_no_half_capture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _job(tmp_path / "job-1", FIRST, ["0.9"])
    into = tmp_path / "data"
    link = os.link

    def failing_link(source: Any, target: Any) -> None:
        if Path(target).parent == into / "captures" / MACHINE:
            raise OSError(28, "No space left on device")
        link(source, target)

    monkeypatch.setattr(version_merge.os, "link", failing_link)
    with pytest.raises(OSError):
        merge_versions([first], into)

    # The version folder went back: nothing but the machine file (whole on its own) is left.
    left = sorted(path.relative_to(into).as_posix() for path in into.rglob("*.json"))
    assert left == [f"machines/{MACHINE}.json"]
    assert check_data(into)[1] == []
    assert not [path for path in tmp_path.iterdir() if ".data-merge-" in path.name]


def test_the_command_refuses_a_missing_folder_and_writes_nothing(tmp_path: Path) -> None:
    into = tmp_path / "data"
    missing = str(tmp_path / "nope")
    completed = subprocess.run(
        [sys.executable, "-m", "harness", "merge-versions", missing, "--into", str(into)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr == (
        f"error: refusing to merge (nothing was written):\n  {tmp_path / 'nope'}: no such data "
        "directory\n"
    )
    assert not into.exists()


# ---- on real job outputs ---------------------------------------------------------------------

OLDER = "26.2.0"  # gunicorn's release before the current pin (harness/versions.toml)
CURRENT = "27.0.1"


@pytest.mark.servers
def test_two_real_version_jobs_merge_into_one_capture_the_site_renders(
    tmp_path: Path, environments_dir: Path
) -> None:
    """What the workflow's merge job does, on the folders of two real one-combination
    captures (an older release and the current combination, as two matrix jobs run them)."""
    from generators.render import render_pages
    from harness.validate import validate

    jobs = []
    for release in (OLDER, CURRENT):
        folder = tmp_path / f"job-{release}"
        capture = subprocess.run(
            [
                sys.executable, "-m", "harness", "capture", "--versions",
                "--server", "gunicorn-sync", "--release", release, "--django", "6.1.3",
                "--python", HARNESS_PYTHON, "--check", "head-request", "--quick",
                "--data-dir", str(folder), "--environments-dir", str(environments_dir),
            ],
            cwd=REPO_ROOT,
            env={**os.environ, "SERVING_DJANGO_MACHINE": "test-machine"},
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )  # fmt: skip
        assert capture.returncode == 0, capture.stderr
        jobs.append(folder)
    into = tmp_path / "data"

    merge = subprocess.run(
        [sys.executable, "-m", "harness", "merge-versions", *map(str, jobs), "--into", str(into)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert merge.returncode == 0, merge.stderr
    assert validate(into) == []
    evidence = load_evidence(into)
    ((key, loaded),) = evidence.version_captures.items()
    record = loaded.document
    assert record["state"] == "complete"
    assert [c["release"] for c in record["combinations"]] == [OLDER, CURRENT]
    assert [source["capture"] for source in record["merged_from"]] == [
        path.name for job in jobs for path in (job / "versions" / "test-machine").iterdir()
    ]
    assert sorted(loaded.document["axis"]["server_release"] for loaded in evidence.versions) == [
        OLDER,
        CURRENT,
    ]
    assert {loaded.document["capture"] for loaded in evidence.versions} == {key[1]}
    pages = render_pages(evidence)
    page = pages["versions/gunicorn-sync.md"]
    assert OLDER.replace(".", "\\.") in page and CURRENT.replace(".", "\\.") in page
    assert "gunicorn-sync.md" in pages["versions/index.md"]
