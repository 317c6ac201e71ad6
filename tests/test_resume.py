"""A capture keeps its own file (running, interrupted, complete) and an interrupted one is
continued with ``capture --resume``: the files already written are kept byte for byte, the
rest is measured, and nothing is resumed with other code or a finished capture."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from evidence.documents import read_document, write_document
from evidence.layout import DataDir
from evidence.validation import check_data
from harness.capture_plan import INTERRUPTED, Capture
from harness.checks import all_checks
from harness.definitions import load_definitions
from harness.machine_identity import choose_identity
from harness.profiles import PROFILES
from harness.provenance import machine_id
from harness.resume import CannotResume, resumed_capture
from tests.conftest import processes_mentioning
from tests.test_capture import COMMANDS, DEFINITION, _harness

MACHINE = "test-machine"


def _servers(directory: Path, gate: Path | None = None) -> Path:
    """Two runserver definitions; with ``gate``, the second starts serving only once that file
    exists, so an interrupt sent while it starts cannot lose the race to its run file."""
    directory.mkdir(parents=True)
    commands = {"good": COMMANDS["good"], "good-too": COMMANDS["good"]}
    if gate is not None:
        commands["good-too"] = (
            f'["sh", "-c", "while [ ! -e {gate} ]; do sleep 0.1; done; '
            'exec {python} manage.py runserver --noreload {host}:{port}"]'
        )
    for server_id, command in commands.items():
        (directory / f"{server_id}.toml").write_text(
            DEFINITION.format(id=server_id, command=command)
        )
    return directory


def _capture_args(servers: Path, data_dir: Path, environments_dir: Path) -> list[str]:
    return [
        "--servers-dir",
        str(servers),
        "--data-dir",
        str(data_dir),
        "--environments-dir",
        str(environments_dir),
    ]


@pytest.mark.servers
def test_an_interrupted_capture_is_marked_and_resumed_keeping_its_files(
    tmp_path: Path, environments_dir: Path
) -> None:
    gate = tmp_path / "good-too-may-serve"
    servers, data_dir = _servers(tmp_path / "servers", gate), tmp_path / "data"
    where = _capture_args(servers, data_dir, environments_dir)
    env = {**os.environ, "SERVING_DJANGO_MACHINE": MACHINE}
    first = _harness(
        "capture", "--quick", "--jobs", "1", "--check", "concurrency-sync-sleep", *where, env=env
    )
    seen, deadline = [], time.monotonic() + 180
    assert first.stdout is not None
    for line in first.stdout:  # "good" sorts first and is written; then "good-too" starts
        seen.append(line)
        if "good-too: preparing database" in line or time.monotonic() > deadline:
            break
    first.send_signal(signal.SIGINT)
    rest, _ = first.communicate(timeout=60)
    assert first.returncode == 130, "".join(seen) + rest
    assert "--resume" in rest

    (record_path,) = data_dir.glob("captures/*/*.json")
    record = read_document(record_path, "capture")
    assert record["state"] == INTERRUPTED and record["finished_at"] is not None
    assert record["selection"] == {
        "servers": ["good", "good-too"],
        "checks": ["concurrency-sync-sleep"],
        "scenarios": [],
    }
    (good,) = data_dir.glob("runs/*/*/good.json")
    kept = good.read_bytes()

    gate.touch()
    second = _harness("capture", "--resume", *where, env=env)
    output, _ = second.communicate(timeout=240)
    assert second.returncode == 0, output
    assert f"resuming capture {record['capture']}" in output
    assert "keeping 1 run and 0 benchmark file(s) of 2 server(s)" in output
    assert good.read_bytes() == kept  # not measured again
    assert sorted(p.stem for p in good.parent.glob("*.json")) == ["good", "good-too"]
    resumed = read_document(record_path, "capture")
    assert resumed["state"] == "complete"
    assert resumed["started_at"] == record["started_at"] and len(resumed["resumed_at"]) == 1
    assert read_document(good.parent / "good-too.json", "run")["capture"] == record["capture"]
    _, problems = check_data(data_dir)
    assert problems == []

    again = _harness("capture", "--resume", *where, env=env)
    output, _ = again.communicate(timeout=60)
    assert again.returncode == 2
    assert "no unfinished capture" in output
    assert not processes_mentioning(str(environments_dir))


def _interrupted(tmp_path: Path, **changes) -> tuple[DataDir, dict]:
    data = DataDir(tmp_path / "data")
    definitions = load_definitions(_servers(tmp_path / "servers"))
    capture = Capture(
        changes.pop("capture_id", "20990101T000000Z"),
        MACHINE,
        PROFILES["quick"],
        data,
        tmp_path / "venvs",
        all_checks()[:1],
        server_ids=("good", "good-too"),
        **changes,
    )
    assert capture.write_record(INTERRUPTED) is not None
    return data, definitions


def test_other_code_is_refused(tmp_path: Path) -> None:
    data, definitions = _interrupted(
        tmp_path,
        capture_id=time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        code_fingerprint="0" * 64,
    )
    checks = {check.id: check for check in all_checks()}
    with pytest.raises(CannotResume, match="made by other code"):
        resumed_capture(data, MACHINE, None, definitions, checks, tmp_path)


def test_a_capture_begun_too_long_ago_is_refused(tmp_path: Path) -> None:
    data, definitions = _interrupted(tmp_path, capture_id="20200101T000000Z")
    checks = {check.id: check for check in all_checks()}
    with pytest.raises(CannotResume, match="began too long ago"):
        resumed_capture(data, MACHINE, "20200101T000000Z", definitions, checks, tmp_path)


def test_an_unknown_capture_is_named(tmp_path: Path) -> None:
    data, definitions = _interrupted(tmp_path, capture_id="20200101T000000Z")
    with pytest.raises(CannotResume, match=r"20200102T000000Z\.json does not exist"):
        resumed_capture(data, MACHINE, "20200102T000000Z", definitions, {}, tmp_path)


def test_a_resumed_capture_keeps_the_machine_id_it_began_with(tmp_path: Path) -> None:
    """Begun as SERVING_DJANGO_MACHINE=test-machine, resumed without it: still test-machine."""
    capture_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    data, definitions = _interrupted(tmp_path, capture_id=capture_id)
    assert choose_identity(data, MACHINE).problem is None  # its machine file: this hardware
    checks = {check.id: check for check in all_checks()}
    here = machine_id()

    capture, _ = resumed_capture(data, here, capture_id, definitions, checks, tmp_path)
    assert capture.machine_id == MACHINE
    with pytest.raises(
        CannotResume,
        match=f"other machine ids have unfinished ones "
        rf"\({MACHINE} has {capture_id}\)",
    ):
        resumed_capture(data, here, None, definitions, checks, tmp_path)


def test_a_capture_of_other_hardware_is_not_resumed_here(tmp_path: Path) -> None:
    from tests import synthetic

    capture_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    data, definitions = _interrupted(tmp_path, capture_id=capture_id)
    write_document(data.machine_path(MACHINE), synthetic.machine(MACHINE), "machine")
    with pytest.raises(CannotResume, match="describes other hardware than this machine's"):
        resumed_capture(data, machine_id(), capture_id, definitions, {}, tmp_path)
    with pytest.raises(CannotResume, match="no unfinished capture of machine") as refused:
        resumed_capture(data, machine_id(), None, definitions, {}, tmp_path)
    assert "other machine ids" not in str(refused.value)


def test_resume_takes_no_selection_of_its_own() -> None:
    process = _harness("capture", "--resume", "--server", "uvicorn")
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "give no --server, --check, --scenario, --quick, --full or --changed with it" in output


def test_a_capture_file_that_contradicts_its_place_is_named(tmp_path: Path) -> None:
    data, _ = _interrupted(tmp_path, capture_id="20260101T000000Z")
    from tests import synthetic

    synthetic.write_data(data.root, [])
    path = data.capture_path(MACHINE, "20260101T000000Z")
    document = json.loads(path.read_text())
    document["capture"] = "20260101T000001Z"
    path.write_text(json.dumps(document))
    _, problems = check_data(data.root)
    assert any(
        str(path) in line and "capture: '20260101T000001Z' must equal the file name" in line
        for line in problems
    ), problems


def test_the_pages_say_when_a_shown_run_comes_from_an_interrupted_capture(tmp_path: Path) -> None:
    from evidence.validation import load_evidence
    from generators.render import render_pages
    from tests import synthetic

    capture_id = "20260101T000000Z"
    data = synthetic.write_data(tmp_path / "data", [synthetic.run("alpha", capture=capture_id)])
    capture = Capture(
        capture_id,
        synthetic.MACHINE_ID,
        PROFILES["quick"],
        data,
        tmp_path / "venvs",
        all_checks()[:1],
        server_ids=("alpha", "beta"),
        started_at=synthetic.at(capture_id, 0),
    )
    capture.write_record(INTERRUPTED)
    pages = render_pages(load_evidence(data.root))
    assert "**interrupted capture**" in pages["matrix.md"]
    assert "(**interrupted**: the capture stopped before its end" in pages["servers/alpha.md"]
    capture.write_record("complete")
    pages = render_pages(load_evidence(data.root))
    assert "interrupted" not in pages["matrix.md"]


def test_check_all_names_every_check_and_no_scenario(tmp_path: Path, monkeypatch) -> None:
    """`--check all` is the checks phase alone: every check, no benchmark scenario."""
    import harness.__main__ as cli

    seen = {}
    monkeypatch.setattr(cli, "_run", lambda capture, chosen: seen.update(capture=capture) or 0)
    monkeypatch.setenv("SERVING_DJANGO_MACHINE", MACHINE)
    # capture_command, not main(): main ends by stopping everything this process started,
    # which would refuse every later test's processes.
    args = cli._parser().parse_args(
        ["capture", "--check", "all", "--data-dir", str(tmp_path / "data"), "--server", "uvicorn"]
    )
    code = cli.capture_command(args)
    assert code == 0
    capture = seen["capture"]
    assert [c.id for c in capture.selected_checks()] == [c.id for c in all_checks()]
    assert capture.selected_scenarios() == []
