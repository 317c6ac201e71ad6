"""Putting version captures that ran apart back together (``python -m harness merge-versions
DIR... --into data/``).

The GitHub Actions workflow ``.github/workflows/versions.yml`` runs the version axis as one job
per combination, each capturing into a data folder of its own on its own runner. This merges
those folders into ONE version capture per machine, as if one capture had measured them all.

"The same machine" is what harness.machine_identity says it is: the machine id (from hardware
facts, or the name ``SERVING_DJANGO_MACHINE`` gives). Jobs under one id become one capture, and
are refused where their machine files describe other hardware (``other_hardware``); jobs on
runners of another kind have another id and stay captures of their own.

The merge is the harness's own documented step, and the merged capture's record says so
(``merged_from``: each job's machine and capture). Its record has the union of the jobs'
combinations, the earliest start, the latest finish, and is complete only if every job's was;
each version file is copied with its ``capture`` field set to the merged capture and nothing
else changed. Every job folder is validated first (``evidence.validation.check_data``); any
problem, a combination two jobs measured, or jobs that ran other code, another profile or
other checks (not measured alike, so not one capture) refuse the whole merge, naming files
and fields, and nothing is written. The captures are written through evidence's writers into a
staging folder beside the target, validated there, then moved in under the target's capture
lock: a capture's version folder, then its record; when the record cannot be placed the folder
goes back, so an error never leaves half a capture.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from evidence.documents import read_document, write_document
from evidence.files import DataError, ExistingFile, read_json
from evidence.layout import DataDir
from evidence.schema import SCHEMA_VERSION
from evidence.validation import KnownIds, Loaded, check_data, moment
from harness.capture_lock import CaptureLock
from harness.capture_plan import COMPLETE, INTERRUPTED, KINDS, MOST_ID_TRIES, VERSIONS
from harness.machine_identity import other_hardware
from harness.provenance import capture_id

# Known ids to cross-check files against; none skips it (tests' synthetic servers).
NO_CROSS_CHECK = KnownIds()
# Fields the jobs of one merged capture must agree on: what makes their files measured alike.
ALIKE = ("profile", "git_commit", "code_fingerprint")


class MergeRefused(Exception):
    """The merge would not be true; ``problems`` holds one 'file: field: problem' line each
    (all of them, not the first). Nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class JobCapture:
    """One version capture a job wrote, as validated in its own data folder."""

    folder: Path
    machine: Loaded  # its machine file
    record: Loaded  # its capture record (kind versions)
    files: tuple[Loaded, ...]  # its version files

    @property
    def key(self) -> tuple[str, str]:
        return self.record.document["machine"], self.record.document["capture"]

    def combination_names(self) -> list[str]:
        return [
            f"{c['server']}@{c['release']}+django-{c['django']}+python-{c['python']}"
            for c in self.record.document.get("combinations") or []
        ]


@dataclass(frozen=True)
class MergedCapture:
    machine: str
    capture: str
    jobs: tuple[JobCapture, ...]
    record: dict[str, Any]

    @property
    def state(self) -> str:
        return self.record["state"]

    def file_count(self) -> int:
        return sum(len(job.files) for job in self.jobs)


def read_jobs(folders: Sequence[Path], known: KnownIds = NO_CROSS_CHECK) -> list[JobCapture]:
    """The version captures in the jobs' data folders, earliest first; MergeRefused lists
    every problem of every folder (a folder with matrix files, or with no version capture,
    is not a version job's)."""
    problems: list[str] = []
    jobs: list[JobCapture] = []
    for folder in folders:
        evidence, found = check_data(folder, known)
        problems += found
        data = DataDir(folder)
        matrix = [*data.run_paths(), *data.benchmark_paths()]
        matrix += [loaded.path for loaded in evidence.captures.values()]
        problems += [
            f"{path}: a matrix file; a version job's data folder holds machines/, captures/ "
            "(kind versions) and versions/ only"
            for path in matrix
        ]
        if folder.is_dir() and not evidence.version_captures and not found:
            problems.append(f"{folder}: holds no version capture (captures/<machine>/*.json)")
        if found or matrix:
            continue
        for (machine, capture), record in sorted(evidence.version_captures.items()):
            files = tuple(
                loaded
                for loaded in evidence.versions
                if (loaded.document["machine"], loaded.document["capture"]) == (machine, capture)
            )
            machine_path = data.machine_path(machine)
            machine_file = Loaded(
                machine_path, machine_path.relative_to(folder).as_posix(),
                evidence.machines[machine],
            )  # fmt: skip
            jobs.append(JobCapture(folder, machine_file, record, files))
    if problems:
        raise MergeRefused(problems)
    return sorted(jobs, key=lambda job: (moment(job.record.document["started_at"]), job.key))


def plan_merge(
    jobs: Sequence[JobCapture], into: DataDir, planned: Sequence[dict[str, str]] = ()
) -> list[MergedCapture]:
    """One merged capture per machine id among ``jobs`` (in the order their machines first
    appear), each with a capture id no capture of its machine has in ``into``; MergeRefused
    lists every reason the jobs cannot be one capture. A ``planned`` combination (the plan
    job's matrix) that no job's record lists is named in each merged capture's not_captured,
    which is then interrupted: a job that failed before its capture began wrote no data."""
    by_machine: dict[str, list[JobCapture]] = {}
    for job in jobs:
        by_machine.setdefault(job.key[0], []).append(job)
    problems: list[str] = []
    merged = []
    for machine, group in by_machine.items():
        found = _hardware_problems(group, into) + _alike_problems(group)
        found += _duplicate_problems(group)
        problems += found
        if not found:
            capture = _new_capture_id(group, into)
            record = _record(group, capture)
            _name_missing(record, planned, [job for job in jobs])
            merged.append(MergedCapture(machine, capture, tuple(group), record))
    if problems:
        raise MergeRefused(problems)
    return merged


# What a merged capture says of a planned combination no job recorded.
NO_JOB_DATA = (
    "planned, but no job's data holds it: its job failed before its capture began, or its "
    "artifact is missing (see the workflow run)"
)


def combination_name(combination: dict[str, str]) -> str:
    return (
        f"{combination['server']}@{combination['release']}+django-{combination['django']}"
        f"+python-{combination['python']}"
    )


def _name_missing(
    record: dict[str, Any], planned: Sequence[dict[str, str]], jobs: Sequence[JobCapture]
) -> None:
    """Name in ``record`` each planned combination that no job (of any machine) recorded."""
    recorded = {
        combination_name(c) for job in jobs for c in job.record.document.get("combinations") or []
    }
    missing = [c for c in planned if combination_name(c) not in recorded]
    for combination in missing:
        record["not_captured"][combination_name(combination)] = NO_JOB_DATA
    if missing:
        record["state"] = INTERRUPTED


def _hardware_problems(group: Sequence[JobCapture], into: DataDir) -> list[str]:
    """Jobs of one machine id must describe the same hardware, as the target's machine file
    of that id does where it has one (harness.machine_identity)."""
    first = group[0].machine
    others = [job.machine for job in group[1:]]
    target = into.machine_path(first.document["id"])
    problems = []
    if target.exists():
        try:
            others.append(Loaded(target, target.name, read_document(target, "machine")))
        except DataError as error:
            return [str(error)]
    for other in others:
        differing = other_hardware(first.document, other.document)
        if differing:
            problems.append(
                f"{other.path}: {', '.join(differing)}: describes other hardware than "
                f"{first.path} under the same machine id {first.document['id']!r} "
                f"({', '.join(f'{name} {other.document[name]!r}' for name in differing)} there, "
                f"{', '.join(f'{name} {first.document[name]!r}' for name in differing)} here); "
                "jobs on other hardware are separate captures under their own machine id"
            )
    return problems


def _alike_problems(group: Sequence[JobCapture]) -> list[str]:
    """One capture's files are measured alike: the same code, profile and checks."""
    first = group[0].record
    problems = []
    for job in group[1:]:
        record = job.record
        for name in ALIKE:
            if record.document.get(name) != first.document.get(name):
                problems.append(
                    f"{record.path}: {name}: {record.document.get(name)!r} differs from "
                    f"{first.document.get(name)!r} in {first.path}; jobs of one merged capture "
                    "are measured alike"
                )
        checks = sorted(record.document["selection"]["checks"])
        if checks != sorted(first.document["selection"]["checks"]):
            problems.append(
                f"{record.path}: selection/checks: {', '.join(checks)} differ from the checks "
                f"of {first.path}; jobs of one merged capture run the same checks"
            )
    return problems


def _duplicate_problems(group: Sequence[JobCapture]) -> list[str]:
    """A combination measured by two jobs: which of its files would the capture hold?"""
    seen: dict[str, Path] = {}
    problems = []
    for job in group:
        written = {loaded.path.stem: loaded.path for loaded in job.files}
        for name in job.combination_names():
            where = written.get(name, job.record.path)
            if name in seen:
                problems.append(
                    f"{where}: combinations: {name} is also a combination of another job "
                    f"({seen[name]}); merge each combination from one job only"
                )
            else:
                seen[name] = where
    return problems


def _in_use(into: DataDir, machine: str, capture: str) -> bool:
    """Whether ``capture`` names a capture of ``machine`` in ``into`` (its record or one of
    its folders), as harness.capture_plan.Capture.id_in_use asks."""
    return into.capture_path(machine, capture).exists() or any(
        (into.root / kind / machine / capture).exists() for kind in KINDS
    )


def _new_capture_id(group: Sequence[JobCapture], into: DataDir) -> str:
    """A capture id is the UTC time the capture started: the earliest job's start, or the next
    second not taken in ``into`` nor by one of the jobs (the merged capture is a new one)."""
    started = min(moment(job.record.document["started_at"]) for job in group)
    taken = {job.key[1] for job in group}
    candidate = started.replace(microsecond=0)
    for _ in range(MOST_ID_TRIES):
        identifier = capture_id(candidate)
        if identifier not in taken and not _in_use(into, group[0].key[0], identifier):
            return identifier
        candidate += timedelta(seconds=1)
    raise MergeRefused(
        [f"{into.root}: no free capture id in the {MOST_ID_TRIES} seconds after {started}"]
    )


def _ordered_union(lists: Iterable[Iterable[Any]]) -> list[Any]:
    union: list[Any] = []
    for items in lists:
        union += [item for item in items if item not in union]
    return union


def _record(group: Sequence[JobCapture], capture: str) -> dict[str, Any]:
    """The merged capture's own file (evidence/schemas/capture.schema.json)."""
    records = [job.record.document for job in group]
    first = records[0]
    finished = [record["finished_at"] for record in records if record["finished_at"]]
    return {
        "schema_version": SCHEMA_VERSION,
        "capture": capture,
        "machine": first["machine"],
        "profile": first["profile"],
        "started_at": min((record["started_at"] for record in records), key=moment),
        "finished_at": max(finished, key=moment) if finished else None,
        "state": COMPLETE if all(r["state"] == COMPLETE for r in records) else INTERRUPTED,
        "selection": {
            "servers": _ordered_union(record["selection"]["servers"] for record in records),
            "checks": list(first["selection"]["checks"]),
            "scenarios": [],
        },
        "options": {
            "jobs": max(record["options"]["jobs"] for record in records),
            "locust_workers": max(record["options"]["locust_workers"] for record in records),
        },
        "git_commit": first["git_commit"],
        "git_dirty": first["git_dirty"],
        "code_fingerprint": first["code_fingerprint"],
        "resumed_at": sorted({at for record in records for at in record["resumed_at"]}),
        "not_captured": {
            name: why for record in records for name, why in record["not_captured"].items()
        },
        "fingerprints": {
            server: value
            for record in records
            for server, value in (record.get("fingerprints") or {}).items()
        },
        "carried_forward": {},
        "kind": VERSIONS,
        "combinations": _ordered_union(record.get("combinations") or [] for record in records),
        # Each job's own speed probe stays with its name: the merged capture ran on several.
        "merged_from": [
            {
                "machine": record["machine"],
                "capture": record["capture"],
                **({"speed_probe": record["speed_probe"]} if record.get("speed_probe") else {}),
            }
            for record in records
        ],
    }


def _stage(merged: Sequence[MergedCapture], staging: DataDir) -> None:
    """Every merged capture written into ``staging`` through evidence's writers (each
    validates its document): the machine file as its first job had it, the record, and each
    version file as its job wrote it but for its ``capture``."""
    for capture in merged:
        machine = read_json(capture.jobs[0].machine.path)
        write_document(staging.machine_path(capture.machine), machine, "machine")
        write_document(
            staging.capture_path(capture.machine, capture.capture), capture.record, "capture"
        )
        for job in capture.jobs:
            for loaded in job.files:
                document = {**read_json(loaded.path), "capture": capture.capture}
                path = staging.version_path(capture.machine, capture.capture, loaded.path.stem)
                write_document(path, document, "run")


def _move_in(capture: MergedCapture, staging: DataDir, into: DataDir) -> None:
    """One staged capture moved into ``into``: its machine file where it has none, its version
    folder, then its record; the folder goes back when the record cannot be placed."""
    staged_machine = staging.machine_path(capture.machine)
    with contextlib.suppress(ExistingFile):  # the same hardware: plan_merge compared them
        write_document(into.machine_path(capture.machine), read_json(staged_machine), "machine")
    folder = into.root / "versions" / capture.machine / capture.capture
    staged_folder = staging.root / "versions" / capture.machine / capture.capture
    if _in_use(into, capture.machine, capture.capture):
        raise MergeRefused([f"{folder}: capture {capture.capture} appeared during the merge"])
    moved = staged_folder.is_dir()
    if moved:
        folder.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staged_folder, folder)
    record = into.capture_path(capture.machine, capture.capture)
    record.parent.mkdir(parents=True, exist_ok=True)
    try:
        # A hard link is placed whole or not at all, and never over an existing record.
        os.link(staging.capture_path(capture.machine, capture.capture), record)
    except OSError:
        if moved:
            os.rename(folder, staged_folder)
        raise


def merge_versions(
    folders: Sequence[Path],
    into: Path,
    known: KnownIds = NO_CROSS_CHECK,
    planned: Sequence[dict[str, str]] = (),
) -> list[MergedCapture]:
    """Merge the version captures of the jobs' data ``folders`` into ``into`` (see the module's
    docstring); MergeRefused (nothing written) names every problem. Holds ``into``'s capture
    lock (DataFolderBusy while a capture runs there)."""
    jobs = read_jobs(folders, known)
    target = DataDir(into)
    with CaptureLock(target):
        merged = plan_merge(jobs, target, planned)
        staging = Path(tempfile.mkdtemp(prefix=f".{into.name}-merge-", dir=into.parent))
        try:
            _stage(merged, DataDir(staging))
            _, problems = check_data(staging, known)
            if problems:
                raise MergeRefused(problems)
            for capture in merged:
                _move_in(capture, DataDir(staging), target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return merged
