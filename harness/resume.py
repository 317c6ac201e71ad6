"""Continuing an interrupted capture (``capture --resume [ID]``) in its own folder.

A capture's own file (``data/captures/<machine>/<capture>.json``) records what it set out to
measure. Resuming reads it back, keeps every server file already written (each is whole: it
is written only once its server is done), and measures the rest with the same selection,
profile and options. It refuses when the code is not the code that began the capture (its
fingerprint covers uncommitted changes too), since one capture's figures are compared as if
measured alike, and when the capture began too long ago for its files to validate.
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
from harness.capture_plan import COMPLETE, Capture
from harness.checks import Check
from harness.definitions import ServerDefinition
from harness.profiles import PROFILES
from harness.provenance import code_fingerprint, now_iso


class CannotResume(Exception):
    """Why the capture cannot be continued; the message says what to do instead."""


def newest_unfinished(data: DataDir, machine: str) -> str:
    """The id of this machine's newest capture that did not finish."""
    for path in sorted((data.root / "captures" / machine).glob("*.json"), reverse=True):
        try:
            if read_document(path, "capture")["state"] != COMPLETE:
                return path.stem
        except DataError:
            continue  # nox -s validate names it
    raise CannotResume(
        f"no unfinished capture of machine {machine} under {data.root / 'captures'}; "
        "start a new one without --resume"
    )


def resumed_capture(
    data: DataDir,
    machine: str,
    capture_id: str | None,
    definitions: Mapping[str, ServerDefinition],
    checks: Mapping[str, Check],
    environments_dir: Path,
) -> tuple[Capture, list[ServerDefinition]]:
    """The capture to continue and the servers it set out to measure."""
    capture_id = capture_id or newest_unfinished(data, machine)
    path = data.capture_path(machine, capture_id)
    if not path.exists():
        raise CannotResume(
            f"{path} does not exist: capture {capture_id} was not started on this machine "
            f"({machine}), or was recorded before captures kept their own file; start a new one"
        )
    try:
        record = read_document(path, "capture")
    except DataError as error:
        raise CannotResume(f"{error}") from error
    _refuse_unless_resumable(record, path)
    missing = [server for server in record["selection"]["servers"] if server not in definitions]
    missing += [check for check in record["selection"]["checks"] if check not in checks]
    if missing:
        raise CannotResume(
            f"capture {capture_id} names servers or checks this checkout does not define: "
            f"{', '.join(missing)}"
        )
    capture = Capture(
        capture_id,
        machine,
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
