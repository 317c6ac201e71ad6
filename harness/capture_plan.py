"""What one capture is: its ids, profile, where it writes, what it runs, and the state its
phases share (the machine lock, the interrupt flag, the code that runs)."""

from __future__ import annotations

import errno
import os
import shutil
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from evidence.documents import write_document
from evidence.files import DataError, ExistingFile
from evidence.layout import DataDir
from evidence.schema import SCHEMA_VERSION
from evidence.vocabulary import SCENARIOS
from harness import checks as checks_module
from harness.checks import Check
from harness.definitions import ServerDefinition
from harness.profiles import Profile
from harness.provenance import capture_id, code_fingerprint, git_commit, git_dirty, now_iso
from harness.scheduling import MachineLock
from harness.versions import Combination, Versions

# A capture writes about 3.5 MB (22 checks and every scenario on 14 configurations); refuse to
# start with less room than several times that.
MIN_FREE_BYTES = 50 * 2**20
KINDS = ("runs", "benchmarks", "versions")
# What a capture measures: the current matrix, or the version axis (``capture --versions``).
MATRIX, VERSIONS = "matrix", "versions"
# A capture's own file (data/captures/<machine>/<capture>.json) says how far it got.
RUNNING, INTERRUPTED, COMPLETE = "running", "interrupted", "complete"
# Ids tried after the one a capture started with is taken (one second apart): one data folder
# runs one capture at a time (harness.capture_lock), so only captures started in the same
# second, one after the other, or a clock set back, meet a taken id.
MOST_ID_TRIES = 60


class NotWritable(Exception):
    """The capture cannot write its files; the message names the folder and the reason."""


@dataclass(frozen=True)
class Capture:
    capture_id: str
    machine_id: str
    profile: Profile
    data: DataDir
    environments_dir: Path
    checks: Sequence[Check] = ()  # empty: every check
    run_checks: bool = True
    scenarios: Sequence[str] = ()  # benchmark scenarios to run after the checks; empty: none
    jobs: int = 1  # servers captured at the same time (checks only; benchmarks run alone)
    server_ids: Sequence[str] = ()  # the servers it sets out to capture, for its own file
    locust_workers: int = 1  # Locust processes under one master (1: Locust alone)
    machine: MachineLock = field(default_factory=MachineLock)
    # The code that runs is the code at the start: read git once, before any server runs.
    git_commit: str | None = field(default_factory=git_commit)
    git_dirty: bool | None = field(default_factory=git_dirty)
    code_fingerprint: str | None = field(default_factory=code_fingerprint)
    started_at: str = field(default_factory=now_iso)
    resumed_at: tuple[str, ...] = ()  # when an interrupted capture was continued
    # How fast this machine ran the speed probe when the capture began (a measurement beside
    # the figures, harness.provenance.speed_probe; not part of the machine id).
    speed_probe: dict[str, Any] | None = None
    # The process holding the data folder's lock for this capture: {"pid": ..., "host": ...}
    # (harness.capture_lock); a --resume records its own.
    holder: dict[str, Any] | None = None
    # Each measured configuration's inputs, digested (harness.fingerprints), and the
    # configurations --changed left unmeasured: id -> the capture that stands for them.
    fingerprints: dict[str, str] = field(default_factory=dict)
    carried_forward: dict[str, str] = field(default_factory=dict)
    interrupted: threading.Event = field(default_factory=threading.Event)
    # Configurations this capture could not measure (id -> why): a start failure (recorded as
    # failed in its file) or a file that could not be written. The exit status says so.
    not_captured: dict[str, str] = field(default_factory=dict)
    # A version capture (kind VERSIONS): the combinations it measures, in order, and the
    # harness/versions.toml they come from (harness.versions); checks only, no benchmarks.
    kind: str = MATRIX
    combinations: Sequence[Combination] = ()
    versions: Versions | None = None

    def to_check(
        self, definitions: Sequence[ServerDefinition]
    ) -> list[tuple[ServerDefinition, Combination | None]]:
        """What the checks phase still measures, in order: each server (a matrix capture) or
        each combination (a version capture) this capture holds no file for yet."""
        if self.kind == VERSIONS:
            by_id = {definition.id: definition for definition in definitions}
            return [
                (by_id[each.server_id], each)
                for each in self.combinations
                if each.server_id in by_id and not self.has_file("versions", each.name)
            ]
        return [(d, None) for d in definitions if not self.has_file("runs", d.id)]

    def selected_checks(self) -> Sequence[Check]:
        if not self.run_checks:
            return ()
        return self.checks or checks_module.all_checks()

    def document_header(self, started_at: str) -> dict[str, Any]:
        """The fields every data file of this capture begins with (finished: now)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "capture": self.capture_id,
            "machine": self.machine_id,
            "profile": self.profile.name,
            "started_at": started_at,
            "finished_at": now_iso(),
        }

    def selected_scenarios(self) -> list[str]:
        """The chosen scenarios, in the order they run."""
        return [scenario for scenario in SCENARIOS if scenario in self.scenarios]

    def has_file(self, kind: str, name: str) -> bool:
        """Whether this capture already holds ``name``'s file of ``kind`` (runs, benchmarks):
        a resumed capture does not measure it again."""
        if kind == "runs":
            return self.data.run_path(self.machine_id, self.capture_id, name).exists()
        if kind == "versions":
            return self.data.version_path(self.machine_id, self.capture_id, name).exists()
        return self.data.benchmark_path(self.machine_id, self.capture_id, name).exists()

    def record(self, state: str) -> dict[str, Any]:
        """The capture's own file: what it set out to measure, and how far it got."""
        return {
            "schema_version": SCHEMA_VERSION,
            "capture": self.capture_id,
            "machine": self.machine_id,
            "profile": self.profile.name,
            "started_at": self.started_at,
            "finished_at": None if state == RUNNING else now_iso(),
            "state": state,
            "selection": {
                "servers": list(self.server_ids),
                "checks": [check.id for check in self.selected_checks()],
                "scenarios": self.selected_scenarios(),
            },
            "options": {"jobs": self.jobs, "locust_workers": self.locust_workers},
            "git_commit": self.git_commit,
            "git_dirty": self.git_dirty,
            "code_fingerprint": self.code_fingerprint,
            "resumed_at": list(self.resumed_at),
            "not_captured": {name: why[:2000] for name, why in sorted(self.not_captured.items())},
            **({"speed_probe": self.speed_probe} if self.speed_probe else {}),
            **({"holder": self.holder} if self.holder else {}),
            "fingerprints": dict(sorted(self.fingerprints.items())),
            "carried_forward": dict(sorted(self.carried_forward.items())),
            **(
                {
                    "kind": VERSIONS,
                    "combinations": [combination.as_record() for combination in self.combinations],
                }
                if self.kind == VERSIONS
                else {}
            ),
        }

    def write_record(self, state: str) -> Path | None:
        """Rewrite the capture's own file with its state: the one data file that is replaced,
        and only by its own capture, which holds the data folder's lock (``capture_lock``)
        while it runs, so no other capture writes it meanwhile. It was created exclusively by
        ``claim_capture_id`` (or by the capture a --resume continues)."""
        path = self.data.capture_path(self.machine_id, self.capture_id)
        return self.write(
            path, self.record(state), "capture", "the capture's own file", replacing=True
        )

    def id_in_use(self) -> bool:
        """Whether this capture's id already names a capture of this machine: its record, or
        its run, benchmark or version folder (captures before records existed have folders only)."""
        return any(
            path.exists()
            for path in (
                self.data.capture_path(self.machine_id, self.capture_id),
                *(self.data.root / kind / self.machine_id / self.capture_id for kind in KINDS),
            )
        )

    def write(
        self,
        path: Path,
        document: dict[str, Any],
        kind: str,
        name: str,
        *,
        replacing: bool = False,
    ) -> Path | None:
        """Write one file of this capture (never over an existing one, but for its own record:
        ``write_record``); a failure is reported with its path and reason and noted in
        ``not_captured``, and the capture goes on (the files already written stay)."""
        try:
            write_document(path, document, kind, replacing=replacing)
        except (OSError, DataError) as error:
            reason = _reason(error) if isinstance(error, OSError) else str(error)
            self.not_captured[name] = f"{path} could not be written: {reason}"
            print(f"error: {self.not_captured[name]}", file=sys.stderr, flush=True)
            return None
        return path


def claim_capture_id(capture: Capture) -> Capture:
    """``capture`` with an id no capture of its machine has, its own file created (state
    running): the file is created only where none exists, so two captures never share an id
    even when they start in the same second; a taken id moves on to the next second."""
    for _ in range(MOST_ID_TRIES):
        if not capture.id_in_use():
            path = capture.data.capture_path(capture.machine_id, capture.capture_id)
            try:
                write_document(path, capture.record(RUNNING), "capture")
                return capture
            except ExistingFile:
                pass  # taken between the look and the write
            except OSError as error:
                raise NotWritable(f"cannot write {path}: {_reason(error)}") from error
        capture = replace(capture, capture_id=_next_second(capture.capture_id))
    raise NotWritable(
        f"no free capture id for machine {capture.machine_id} in the {MOST_ID_TRIES} seconds "
        f"up to {capture.capture_id} under {capture.data.root}: is the clock right?"
    )


def _next_second(capture: str) -> str:
    moment = datetime.strptime(capture, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return capture_id(moment + timedelta(seconds=1))


def check_writable(data: DataDir, machine_id: str) -> None:
    """NotWritable unless every folder a capture on this machine writes can take files and
    there is room: found before any server runs, not after every check has."""
    folders = [data.root / "machines"] + [
        data.root / kind / machine_id for kind in (*KINDS, "captures")
    ]
    for folder in folders:
        # The nearest folder that exists: creating the others here would leave empty folders
        # behind when the capture is refused for another reason.
        existing = next(parent for parent in (folder, *folder.parents) if parent.exists())
        probe = existing / f".write-check-{os.getpid()}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            raise NotWritable(f"cannot write in {folder}: {_reason(error)}") from error
    free = shutil.disk_usage(next(p for p in (data.root, *data.root.parents) if p.exists())).free
    if free < MIN_FREE_BYTES:
        raise NotWritable(
            f"only {free / 2**20:.1f} MiB free under {data.root}; a capture needs at least "
            f"{MIN_FREE_BYTES / 2**20:.0f} MiB"
        )


def _reason(error: OSError) -> str:
    name = errno.errorcode.get(error.errno or 0, "")
    return f"[Errno {error.errno}{' ' + name if name else ''}] {error.strerror or error}"
