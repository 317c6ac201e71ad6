"""Continuing an interrupted capture (``capture --resume [ID]``) in its own folder.

A capture's own file (``data/captures/<machine>/<capture>.json``) records what it set out to
measure. Resuming reads it back, keeps every server file already written (each is whole: it
is written only once its server is done), and measures the rest with the same selection,
profile and options. It refuses when the code is not the code that began the capture (its
fingerprint covers uncommitted changes too), since one capture's figures are compared as if
measured alike, and when the capture began too long ago for its files to validate.

A resumed capture keeps the machine id it began with, the one its record names (a capture
begun under ``SERVING_DJANGO_MACHINE=name`` goes on as ``name`` without it). A capture that is
still running is not resumed: the data folder's lock (``capture_lock``) refuses the second
process before this module reads anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evidence.documents import read_document
from evidence.files import DataError
from evidence.layout import DataDir
from evidence.validation import CAPTURE_SPAN, CLOCK_SLACK
from harness.capture_plan import COMPLETE, MATRIX, VERSIONS, Capture
from harness.checks import Check
from harness.definitions import ServerDefinition
from harness.environments import project_requirements
from harness.machine_identity import HARDWARE_FIELDS, other_hardware
from harness.profiles import PROFILES
from harness.provenance import code_fingerprint, machine_record, now_iso
from harness.versions import VERSIONS_FILE, VersionsError, combination_from_record, load_versions


class CannotResume(Exception):
    """Why the capture cannot be continued; the message says what to do instead."""


def newest_unfinished(data: DataDir, machine: str) -> str:
    """The id of this machine's newest capture that did not finish."""
    unfinished = _unfinished(data.root / "captures" / machine)
    if unfinished:
        return unfinished[0].stem
    elsewhere = [
        f"{path.parent.name} has {path.stem}"
        for path in _unfinished(data.root / "captures", "*/*.json")
        if not _other_hardware(data, path.parent.name)
    ]
    raise CannotResume(
        f"no unfinished capture of machine {machine} under {data.root / 'captures'}; "
        + (
            f"other machine ids have unfinished ones ({'; '.join(elsewhere)}): name one, "
            "`--resume CAPTURE`, to continue it under its own machine id, or "
            if elsewhere
            else ""
        )
        + "start a new one without --resume"
    )


def _unfinished(folder: Path, pattern: str = "*.json") -> list[Path]:
    """Records under ``folder`` of captures that did not finish, newest first."""
    found = []
    for path in sorted(folder.glob(pattern), key=lambda path: path.stem, reverse=True):
        try:
            if read_document(path, "capture")["state"] != COMPLETE:
                found.append(path)
        except DataError:
            continue  # nox -s validate names it
    return found


def _other_hardware(data: DataDir, machine: str) -> list[str]:
    """The hardware facts in which machine id ``machine``'s file differs from this machine
    (all of them when it has no readable file)."""
    try:
        recorded = read_document(data.machine_path(machine), "machine")
    except DataError:
        return list(HARDWARE_FIELDS)
    return other_hardware(recorded, machine_record(machine))


def record_path(data: DataDir, machine: str, capture_id: str) -> Path:
    """Where capture ``capture_id``'s record is: under this machine's id, else under the one
    other machine id that holds it (a capture keeps the id it began with)."""
    path = data.capture_path(machine, capture_id)
    if path.exists():
        return path
    found = sorted((data.root / "captures").glob(f"*/{capture_id}.json"))
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise CannotResume(
            f"capture {capture_id} exists under several machine ids "
            f"({', '.join(p.parent.name for p in found)}) and none is this machine's "
            f"({machine}); run with SERVING_DJANGO_MACHINE set to the one to continue"
        )
    raise CannotResume(
        f"{path} does not exist: capture {capture_id} was not started on this machine "
        f"({machine}), or was recorded before captures kept their own file; start a new one"
    )


def resumed_capture(
    data: DataDir,
    machine: str,
    capture_id: str | None,
    definitions: Mapping[str, ServerDefinition],
    checks: Mapping[str, Check],
    environments_dir: Path,
    versions_file: Path = VERSIONS_FILE,
) -> tuple[Capture, list[ServerDefinition]]:
    """The capture to continue and the servers it set out to measure (a version capture's
    combinations as its record lists them, with ``versions_file`` for their pins)."""
    capture_id = capture_id or newest_unfinished(data, machine)
    path = record_path(data, machine, capture_id)
    try:
        record = read_document(path, "capture")
    except DataError as error:
        raise CannotResume(f"{error}") from error
    _refuse_unless_resumable(record, path)
    differing = _other_hardware(data, record["machine"]) if record["machine"] != machine else []
    if differing:
        raise CannotResume(
            f"capture {capture_id} was recorded on machine {record['machine']}, whose file "
            f"describes other hardware than this machine's ({', '.join(differing)} differ); "
            "resume it there"
        )
    missing = [server for server in record["selection"]["servers"] if server not in definitions]
    missing += [check for check in record["selection"]["checks"] if check not in checks]
    if missing:
        raise CannotResume(
            f"capture {capture_id} names servers or checks this checkout does not define: "
            f"{', '.join(missing)}"
        )
    versions, planned = None, ()
    if record.get("kind") == VERSIONS:
        try:
            versions = load_versions(definitions, project_requirements(), versions_file)
        except VersionsError as error:
            raise CannotResume(f"invalid version axis:\n{error}") from error
        planned = tuple(combination_from_record(item, versions) for item in record["combinations"])
        undeclared = [
            c.name
            for c in planned
            if c.server_id not in versions.servers
            or c.release not in versions.servers[c.server_id].releases
        ]
        if undeclared:
            raise CannotResume(
                f"capture {capture_id} measures combinations {versions_file} no longer declares: "
                f"{', '.join(undeclared)}"
            )
    capture = Capture(
        capture_id,
        record["machine"],
        PROFILES[record["profile"]],
        data,
        environments_dir,
        [checks[check] for check in record["selection"]["checks"]],
        run_checks=bool(record["selection"]["checks"]),
        scenarios=tuple(record["selection"]["scenarios"]),
        jobs=record["options"]["jobs"],
        locust_workers=record["options"]["locust_workers"],
        server_ids=tuple(record["selection"]["servers"]),
        started_at=record["started_at"],
        resumed_at=(*record["resumed_at"], now_iso()),
        not_captured=dict(record["not_captured"]),
        speed_probe=record.get("speed_probe"),
        fingerprints=dict(record.get("fingerprints") or {}),
        carried_forward=dict(record.get("carried_forward") or {}),
        kind=record.get("kind", MATRIX),
        combinations=planned,
        versions=versions,
    )
    return capture, [definitions[server] for server in capture.server_ids]


def _refuse_unless_resumable(record: dict[str, Any], path: Path) -> None:
    capture = record["capture"]
    if record["state"] == COMPLETE:
        raise CannotResume(f"capture {capture} is complete ({path}); nothing to resume")
    here = code_fingerprint()
    if here is None or record["code_fingerprint"] != here:
        raise CannotResume(
            f"capture {capture} was made by other code (commit {record['git_commit']}, "
            f"{'with' if record['git_dirty'] else 'without'} uncommitted changes) than this "
            "checkout's; check that code out to resume it, or start a new capture"
        )
    began = datetime.strptime(capture, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if datetime.now(UTC) - began > CAPTURE_SPAN - CLOCK_SLACK:
        raise CannotResume(
            f"capture {capture} began too long ago: files must start within "
            f"{CAPTURE_SPAN.days} days of their capture id to validate; start a new capture"
        )
