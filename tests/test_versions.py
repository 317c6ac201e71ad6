"""The version axis (harness/versions.toml, harness/versions.py): its validation, the
combinations a version capture measures and their environments, the version files' names
against their content, and that nothing under data/versions/ reaches the matrix.

SYNTHETIC data only (tests/synthetic.py); the real capture is tests/test_capture_versions.py."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from evidence.documents import read_document, write_document
from evidence.layout import REPO_ROOT, DataDir
from evidence.validation import check_data
from generators.model import site_from
from harness import environments
from harness.capture_plan import COMPLETE, INTERRUPTED, VERSIONS, Capture, claim_capture_id
from harness.checks import all_checks
from harness.checks_phase import _environment
from harness.definitions import load_definitions
from harness.environments import Environment, project_requirements
from harness.fingerprints import shared_digest
from harness.profiles import PROFILES
from harness.provenance import capture_id
from harness.resume import CannotResume, resumed_capture
from harness.validate import validate
from harness.versions import (
    HARNESS_PYTHON,
    VERSIONS_FILE,
    Combination,
    VersionsError,
    combination_from_record,
    combination_requirements,
    combinations,
    load_versions,
)
from tests import synthetic

DEFINITIONS = load_definitions()
# Three configurations of the repository, as a small axis: a server with an extra (its pin is
# replaced with the extra kept), a server with a companion pin, and runserver (Django itself).
SMALL = {key: DEFINITIONS[key] for key in ("gunicorn-sync", "uvicorn", "runserver")}
VALID = f"""
[gunicorn-sync]
releases = ["26.1.0", "26.2.0", "27.0.1"]
[gunicorn-sync.notes]
"26.1.0" = "https://github.com/benoitc/gunicorn/releases/tag/26.1.0"

[uvicorn]
releases = ["0.53.0", "0.54.0"]
[uvicorn.requirements]
"0.53.0" = ["uvicorn[standard]==0.53.0", "h11==0.16.0"]

[runserver]
releases = ["6.1.3"]

[axis]
django = ["5.2.20", "6.0.10", "6.1.3"]
python = ["{HARNESS_PYTHON}", "3.13"]
"""


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "versions.toml"
    path.write_text(text)
    return load_versions(SMALL, project_requirements(), path)


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(VersionsError) as failure:
        _load(tmp_path, text)
    prefix = f"{tmp_path / 'versions.toml'}: "
    assert all(line.startswith(prefix) for line in failure.value.problems)
    return [line.removeprefix(prefix) for line in failure.value.problems]


# ---- harness/versions.toml ------------------------------------------------------------------


def test_the_repository_version_axis_is_valid_and_covers_every_configuration() -> None:
    versions = load_versions(DEFINITIONS, project_requirements())
    assert set(versions.servers) == set(DEFINITIONS)
    assert all(
        len(server.releases) >= 3 for k, server in versions.servers.items() if k != "runserver"
    )
    assert versions.axis.current_python == HARNESS_PYTHON
    assert validate(Path(synthetic.__file__).parent / "no-such-data", known_checks=set()) == [
        f"{Path(synthetic.__file__).parent / 'no-such-data'}: no such data directory"
    ]


def test_an_unknown_configuration_and_a_missing_one_are_named_with_the_known_ids(
    tmp_path: Path,
) -> None:
    text = VALID.replace("[runserver]\nreleases", "[runservr]\nreleases")
    assert _problems(tmp_path, text) == [
        "[runservr]: not a configuration id of harness/servers/ "
        "(known: gunicorn-sync, runserver, uvicorn) nor [axis]",
        "[runserver]: missing; every configuration declares its releases",
    ]


def test_the_current_release_must_be_the_definitions_pin(tmp_path: Path) -> None:
    text = VALID.replace('"26.2.0", "27.0.1"]', '"26.2.0", "27.0.0"]')
    (problem,) = _problems(tmp_path, text)
    assert problem.startswith(
        "[gunicorn-sync]: releases: the last ('27.0.0') must be the current pin of gunicorn "
        "('27.0.1', from "
    )
    assert problem.endswith("gunicorn-sync.toml)")


def test_unknown_keys_unordered_releases_and_foreign_notes_are_each_named(
    tmp_path: Path,
) -> None:
    text = VALID.replace(
        'releases = ["26.1.0", "26.2.0", "27.0.1"]',
        'releases = ["26.2.0", "26.1.0", "27.0.1"]\nrelease = "x"',
    ).replace('"26.1.0" = "https://github.com', '"25.0.0" = "http://github.com')
    assert _problems(tmp_path, text) == [
        "[gunicorn-sync]: release: unknown key (allowed: releases, notes, requirements)",
        "[gunicorn-sync]: releases: list them oldest first, the current pin last: "
        "['26.2.0', '26.1.0', '27.0.1']",
        "[gunicorn-sync].notes: '25.0.0' is not one of its releases (26.2.0, 26.1.0, 27.0.1)",
        "[gunicorn-sync].notes: '25.0.0': 'http://github.com/benoitc/gunicorn/releases/tag/"
        "26.1.0' is not an https:// address",
    ]


def test_companion_pins_must_be_pinned_and_agree_with_their_release(tmp_path: Path) -> None:
    text = VALID.replace(
        '"0.53.0" = ["uvicorn[standard]==0.53.0", "h11==0.16.0"]',
        '"0.53.0" = ["uvicorn[standard]==0.54.0", "h11>=0.16"]',
    )
    assert _problems(tmp_path, text) == [
        "[uvicorn].requirements: '0.53.0': 'h11>=0.16' is not pinned with == (results must be "
        "reproducible)",
        "[uvicorn].requirements: '0.53.0': 'uvicorn[standard]==0.54.0' pins uvicorn to another "
        "release than 0.53.0",
    ]


def test_the_axis_names_the_sample_projects_django_and_the_harness_python_as_current(
    tmp_path: Path,
) -> None:
    text = VALID.replace('"6.0.10", "6.1.3"]', '"6.1.3", "6.0.10"]').replace(
        f'python = ["{HARNESS_PYTHON}", "3.13"]', 'python = ["3.13", "3.12", "py3"]'
    )
    assert _problems(tmp_path, text) == [
        "[axis]: python: 'py3' is not a version (like 3.13)",
    ]
    text = text.replace(', "py3"]', "]")
    assert _problems(tmp_path, text) == [
        "[axis]: django: list them oldest first, the sample project's pin last: "
        "['5.2.20', '6.1.3', '6.0.10']",
        "[axis]: django: the last ('6.0.10') must be the sample project's pin ('6.1.3', "
        "sampleproject/requirements.txt)",
        f"[axis]: python: the first ('3.13') must be the harness's Python ({HARNESS_PYTHON}), "
        "which the current matrix runs",
    ]


def test_runserver_declares_only_its_current_django(tmp_path: Path) -> None:
    text = VALID.replace('releases = ["6.1.3"]', 'releases = ["6.0.10", "6.1.3"]')
    assert _problems(tmp_path, text) == [
        "[runserver]: releases: its server is Django itself, whose releases [axis] django "
        "lists; declare only the current pin ('6.1.3')",
    ]


def test_validate_reports_the_version_axis_problems_of_the_repository_definitions(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "versions.toml"
    broken.write_text(VERSIONS_FILE.read_text().replace("[waitress", "[waitres"))
    data = tmp_path / "data"
    write_document(DataDir(data).machine_path("m"), synthetic.machine("m"), "machine")
    problems = validate(data, versions_file=broken)
    assert f"{broken}: [waitress]: missing; every configuration declares its releases" in problems
    assert any(line.startswith(f"{broken}: [waitres]: not a configuration id") for line in problems)


# ---- the combinations and their environments -------------------------------------------------


def test_combinations_come_releases_first_then_each_other_django_then_each_other_python(
    tmp_path: Path,
) -> None:
    versions = _load(tmp_path, VALID)
    names = [c.name for c in combinations(versions, ["uvicorn", "gunicorn-sync"])]
    python = HARNESS_PYTHON
    assert names == [
        f"uvicorn@0.53.0+django-6.1.3+python-{python}",
        f"uvicorn@0.54.0+django-6.1.3+python-{python}",
        f"gunicorn-sync@26.1.0+django-6.1.3+python-{python}",
        f"gunicorn-sync@26.2.0+django-6.1.3+python-{python}",
        f"gunicorn-sync@27.0.1+django-6.1.3+python-{python}",
        f"uvicorn@0.54.0+django-5.2.20+python-{python}",
        f"uvicorn@0.54.0+django-6.0.10+python-{python}",
        f"gunicorn-sync@27.0.1+django-5.2.20+python-{python}",
        f"gunicorn-sync@27.0.1+django-6.0.10+python-{python}",
        "uvicorn@0.54.0+django-6.1.3+python-3.13",
        "gunicorn-sync@27.0.1+django-6.1.3+python-3.13",
    ]
    current = [c.name for c in combinations(versions, ["uvicorn", "gunicorn-sync"]) if c.current]
    assert current == [
        f"uvicorn@0.54.0+django-6.1.3+python-{python}",
        f"gunicorn-sync@27.0.1+django-6.1.3+python-{python}",
    ]
    older = combinations(versions, ["gunicorn-sync"], "26.2.0")
    assert [c.name for c in older] == [f"gunicorn-sync@26.2.0+django-6.1.3+python-{python}"]
    # A job of the version workflow names its one combination by all four fields.
    (one,) = combinations(versions, ["gunicorn-sync"], "27.0.1", django="6.1.3", python=python)
    assert one.name == f"gunicorn-sync@27.0.1+django-6.1.3+python-{python}" and one.current
    newer = combinations(versions, ["uvicorn", "gunicorn-sync"], python="3.13")
    assert [c.name for c in newer] == names[-2:]
    assert combinations(versions, ["gunicorn-sync"], "26.2.0", django="5.2.20") == []
    # As a capture's record lists them, and back (resume).
    for combination in combinations(versions, ["uvicorn"]):
        assert combination_from_record(combination.as_record(), versions) == combination


def test_a_combination_replaces_the_server_and_django_pins_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    versions = _load(tmp_path, VALID)
    project = project_requirements()
    older = Combination("uvicorn", "0.53.0", "5.2.20", HARNESS_PYTHON)
    pins = combination_requirements(older, DEFINITIONS["uvicorn"], versions, project)
    assert "Django==5.2.20" in pins and "Django==6.1.3" not in pins
    assert pins[len(project) :] == ["uvicorn[standard]==0.53.0", "zttp==0.0.35", "h11==0.16.0"]
    plain = Combination("gunicorn-sync", "26.2.0", "6.1.3", HARNESS_PYTHON)
    assert combination_requirements(plain, DEFINITIONS["gunicorn-sync"], versions, project) == [
        *project,
        "gunicorn==26.2.0",
    ]


def test_each_combination_has_its_own_environment_beside_the_matrixs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The installer is replaced by a recorder here (the real install is the end-to-end
    test's): what is checked is where each environment goes and what it is asked to hold."""
    installs: list[list[str]] = []

    def record(argv: list[str]) -> None:
        installs.append(argv)
        if argv[1] == "venv":  # uv venv makes the folder the marker is written into
            Path(argv[-1]).mkdir(parents=True)

    monkeypatch.setattr(environments, "_run", record)
    monkeypatch.setattr(
        environments, "_describe", lambda path: Environment(path, HARNESS_PYTHON, {})
    )
    versions = _load(tmp_path, VALID)
    (older,) = combinations(versions, ["gunicorn-sync"], "26.2.0")
    capture = _capture(tmp_path, versions, [older])
    made = _environment(capture, DEFINITIONS["gunicorn-sync"], older)
    assert (
        made.path
        == tmp_path / "venvs" / f"gunicorn-sync@26.2.0+django-6.1.3+python-{HARNESS_PYTHON}"
    )
    assert (made.path / ".serving-django-requirements").is_file()
    (venv, install) = installs
    assert venv[-1] == str(made.path)
    assert install[-1] == "gunicorn==26.2.0" and "Django==6.1.3" in install
    # Made once: the same combination again reuses it; the matrix's is another one.
    _environment(capture, DEFINITIONS["gunicorn-sync"], older)
    assert len(installs) == 2
    matrix = _environment(capture, DEFINITIONS["gunicorn-sync"], None)
    assert matrix.path == tmp_path / "venvs" / "gunicorn-sync"
    assert installs[-1][-1] == "gunicorn==27.0.1"


# ---- a version capture's record and plan -------------------------------------------------------


def _capture(tmp_path: Path, versions: object, planned: list[Combination]) -> Capture:
    return Capture(
        synthetic.CAPTURE_ID,
        synthetic.MACHINE_ID,
        PROFILES["quick"],
        DataDir(tmp_path / "data"),
        tmp_path / "venvs",
        run_checks=True,
        server_ids=tuple(dict.fromkeys(c.server_id for c in planned)),
        kind=VERSIONS,
        combinations=tuple(planned),
        versions=versions,
    )


def test_a_version_capture_records_its_kind_and_combinations_and_skips_written_files(
    tmp_path: Path,
) -> None:
    versions = _load(tmp_path, VALID)
    planned = combinations(versions, ["uvicorn", "gunicorn-sync"])
    capture = claim_capture_id(_capture(tmp_path, versions, planned))
    record = read_document(
        capture.data.capture_path(capture.machine_id, capture.capture_id), "capture"
    )
    assert record["kind"] == "versions"
    assert record["combinations"][0] == {
        "server": "uvicorn",
        "release": "0.53.0",
        "django": "6.1.3",
        "python": HARNESS_PYTHON,
    }
    assert len(record["combinations"]) == len(planned) == 11
    assert record["selection"]["scenarios"] == []
    definitions = [DEFINITIONS["gunicorn-sync"], DEFINITIONS["uvicorn"]]
    assert [c.name for _, c in capture.to_check(definitions)] == [c.name for c in planned]
    written = capture.data.version_path(capture.machine_id, capture.capture_id, planned[0].name)
    written.parent.mkdir(parents=True)
    written.write_text("{}")
    assert [c.name for _, c in capture.to_check(definitions)] == [c.name for c in planned[1:]]
    # A matrix capture's record stays as it was: no kind, no combinations.
    matrix = Capture(
        "20260101T000001Z", synthetic.MACHINE_ID, PROFILES["quick"], capture.data, tmp_path
    )
    assert "kind" not in matrix.record(COMPLETE) and "combinations" not in matrix.record(COMPLETE)


def test_an_interrupted_version_capture_resumes_with_its_own_combinations(
    tmp_path: Path,
) -> None:
    versions = _load(tmp_path, VALID)
    planned = combinations(versions, ["uvicorn", "gunicorn-sync"])
    begun = replace(_capture(tmp_path, versions, planned), capture_id=capture_id())
    begun = claim_capture_id(begun)
    begun.write_record(INTERRUPTED)
    checks = {check.id: check for check in all_checks()}

    resumed, servers = resumed_capture(
        begun.data, begun.machine_id, begun.capture_id, SMALL, checks, tmp_path, versions.path
    )

    assert resumed.kind == VERSIONS and resumed.versions == versions
    assert resumed.combinations == tuple(planned)
    assert [definition.id for definition in servers] == ["uvicorn", "gunicorn-sync"]
    # A release the versions file no longer declares cannot be resumed: its pins are gone.
    versions.path.write_text(
        VALID.replace('"0.53.0", "0.54.0"]', '"0.54.0"]').replace(
            '[uvicorn.requirements]\n"0.53.0" = ["uvicorn[standard]==0.53.0", "h11==0.16.0"]', ""
        )
    )
    with pytest.raises(CannotResume) as refused:
        resumed_capture(
            begun.data, begun.machine_id, begun.capture_id, SMALL, checks, tmp_path, versions.path
        )
    assert str(refused.value) == (
        f"capture {begun.capture_id} measures combinations {versions.path} no longer declares: "
        f"uvicorn@0.53.0+django-6.1.3+python-{HARNESS_PYTHON}"
    )


# ---- version files: names, axis, declared combinations; never the matrix ---------------------

NAME = "alpha@0.9+django-6.1.3+python-3.12"


def _version_data(tmp_path: Path) -> tuple[Path, dict]:
    """A data folder with one matrix run of alpha (outcome yes) and a version capture of an
    older alpha, measured later with another outcome: were it read into the matrix, it would
    be the newest run of alpha."""
    root = tmp_path / "data"
    synthetic.write_data(root, [synthetic.run()])
    later = "20260101T010000Z"
    record = synthetic.version_capture(later, ["0.9"])
    write_document(DataDir(root).capture_path(synthetic.MACHINE_ID, later), record, "capture")
    document = synthetic.run(outcome="no", summary="Older release.", capture=later)
    document["axis"] = {
        "server_release": "0.9",
        "django": "6.1.3",
        "python": "3.12.8",
        "current": False,
    }
    return root, document


def _write_version(root: Path, document: dict, name: str = NAME) -> Path:
    path = DataDir(root).version_path(document["machine"], document["capture"], name)
    write_document(path, document, "run")
    return path


def test_a_version_file_is_validated_and_kept_out_of_the_matrix(tmp_path: Path) -> None:
    root, document = _version_data(tmp_path)
    before, problems = check_data(root)
    assert problems == []
    matrix_before = site_from(before, servers={}, catalog=[])
    path = _write_version(root, document)

    after, problems = check_data(root)

    assert problems == []
    assert [loaded.path for loaded in after.versions] == [path]
    assert after.runs == before.runs
    # Its capture's record is not one of the matrix's captures (downloads, capture states).
    assert after.captures == {} and list(after.version_captures) == [
        (synthetic.MACHINE_ID, document["capture"])
    ]
    assert site_from(after, servers={}, catalog=[]) == matrix_before
    assert after.newest_runs()["alpha"].document["checks"][0]["outcome"] == "yes"


def test_a_version_files_name_must_agree_with_its_server_and_axis(tmp_path: Path) -> None:
    root, document = _version_data(tmp_path)
    path = _write_version(root, document, "alpha@0.9+django-6.0.10+python-3.12")
    _, problems = check_data(root)
    assert problems == [
        f"{path}: server/id, axis: the file name 'alpha@0.9+django-6.0.10+python-3.12' must be "
        f"'{NAME}' (<server>@<release>+django-<version>+python-<minor>)"
    ]


def test_a_version_file_needs_its_axis_and_a_combination_its_capture_declared(
    tmp_path: Path,
) -> None:
    root, document = _version_data(tmp_path)
    undeclared = copy.deepcopy(document)
    undeclared["axis"]["server_release"] = "0.8"
    first = _write_version(root, undeclared, "alpha@0.8+django-6.1.3+python-3.12")
    no_axis = copy.deepcopy(document)
    del no_axis["axis"]
    second = _write_version(root, no_axis)
    _, problems = check_data(root)
    assert problems == [
        f"{first}: axis/server_release: '0.8' with django '6.1.3' and python '3.12.8' is not a "
        "combination its capture declared (harness/versions.toml then; releases of 'alpha': 0.9)",
        f"{second}: axis: required in files under data/versions/ (the version axis)",
    ]


def test_a_matrix_run_file_has_no_axis(tmp_path: Path) -> None:
    root = tmp_path / "data"
    document = synthetic.run()
    document["axis"] = {
        "server_release": "1.0",
        "django": "6.1.3",
        "python": "3.12.8",
        "current": True,
    }
    path = synthetic.write_data(root, [document]).run_path(
        synthetic.MACHINE_ID, synthetic.CAPTURE_ID, "alpha"
    )
    _, problems = check_data(root)
    assert problems == [
        f"{path}: axis: only files under data/versions/ have one (the version axis)"
    ]
    assert json.loads(path.read_text())["axis"]["current"] is True


# ---- the command line refuses what a version capture cannot do, before anything starts -------


def _refused(*args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "harness", "capture", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2, completed.stderr
    return completed.stderr


def test_versions_refuses_benchmarks_and_an_undeclared_release_django_or_python() -> None:
    assert (
        "error: --versions runs checks only, on every combination it declares; give no "
        "--scenario, --changed with it"
    ) in _refused("--versions", "--scenario", "h2load", "--changed")
    assert "give it with --versions" in _refused("--release", "26.2.0")
    assert "--python chooses a combination" in _refused("--python", "3.13")
    assert (
        f"error: --django '9.9' is not on the axis of {VERSIONS_FILE} ([axis] django: "
        "5.2.20, 6.0.10, 6.1.3)"
    ) in _refused("--versions", "--django", "9.9")
    assert (
        "error: no combination of gunicorn-sync has release 26.1.0, django 5.2.20 and python "
        "any: older releases run with the current Django and Python"
    ) in _refused(
        "--versions", "--server", "gunicorn-sync", "--release", "26.1.0", "--django", "5.2.20"
    )
    stderr = _refused("--versions", "--server", "gunicorn-sync", "--release", "25.0.0")
    assert (
        f"error: release '25.0.0' is not declared in {VERSIONS_FILE} "
        "(gunicorn-sync: 26.1.0, 26.2.0, 27.0.1)"
    ) in stderr


def test_the_version_axis_declaration_is_no_input_of_the_matrixs_fingerprints(
    tmp_path: Path,
) -> None:
    (tmp_path / "harness").mkdir()
    (tmp_path / "harness" / "capture.py").write_text("code\n")
    (tmp_path / "harness" / "versions.toml").write_text("[axis]\n")
    before = shared_digest(tmp_path)
    (tmp_path / "harness" / "versions.toml").write_text("[axis]\ndjango = []\n")
    assert shared_digest(tmp_path) == before
    (tmp_path / "harness" / "capture.py").write_text("other code\n")
    assert shared_digest(tmp_path) != before
