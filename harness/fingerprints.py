"""What each configuration's results depend on, digested, and which configurations a capture
with ``--changed`` can carry forward instead of measuring again.

A configuration's fingerprint covers its own definition (command, options, pinned
requirements), the sample project, the harness and data-model code that measures and records
it (checks, scenarios, load tools, runner: all of ``harness/`` but the other definitions and
the version axis's ``versions.toml``, and ``evidence/``), the harness's pinned packages and
system packages, and the profile. The files are read as they are on disk, so an uncommitted
change counts. Editing one definition thus changes that configuration's fingerprint only;
editing a check or a scenario changes all.

Carried forward: a configuration whose newest measurement on this machine (a capture with the
same profile whose selection covers this one's, its files present) has the same fingerprint.
Its files stay where they are, and the site keeps showing them under their own capture.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from evidence.documents import read_document
from evidence.files import DataError
from evidence.layout import REPO_ROOT, DataDir
from harness.definitions import DEFINITIONS_DIR, ServerDefinition

# Inputs shared by every configuration, relative to the repository.
SHARED_INPUTS = (
    "harness",
    "evidence",
    "sampleproject",
    "requirements/harness.txt",
    "requirements/system-packages.txt",
)
SKIPPED_PARTS = {"__pycache__", "node_modules", ".pytest_cache"}
VERSIONS_DECLARATION = "harness/versions.toml"  # harness.versions.VERSIONS_FILE


def _files(root: Path, relative: str) -> Iterable[Path]:
    path = root / relative
    if path.is_file():
        yield path
        return
    for found in sorted(path.rglob("*")):
        parts = set(found.relative_to(root).parts)
        if found.is_file() and not parts & SKIPPED_PARTS and found.suffix != ".pyc":
            # Another configuration's definition is not this one's input, nor is the version
            # axis's declaration (the matrix runs the definitions' pins, not its releases).
            if found.parent == root / "harness" / "servers" and found.suffix == ".toml":
                continue
            if found == root / VERSIONS_DECLARATION:
                continue
            yield found


def shared_digest(root: Path = REPO_ROOT) -> bytes:
    """The digest of every input shared by all configurations (read once per capture)."""
    digest = hashlib.sha256()
    for relative in SHARED_INPUTS:
        for path in _files(root, relative):
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.digest()


def configuration_fingerprint(
    definition: ServerDefinition, profile: str, shared: bytes, servers_dir: Path = DEFINITIONS_DIR
) -> str:
    """The fingerprint of one configuration's inputs under one profile."""
    source = definition.path or servers_dir / f"{definition.id}.toml"
    digest = hashlib.sha256(shared)
    digest.update(profile.encode() + b"\0" + definition.id.encode() + b"\0")
    digest.update(source.read_bytes() if source.is_file() else repr(definition).encode())
    return digest.hexdigest()


def fingerprints(
    definitions: Sequence[ServerDefinition], profile: str, servers_dir: Path = DEFINITIONS_DIR
) -> dict[str, str]:
    shared = shared_digest()
    return {
        definition.id: configuration_fingerprint(definition, profile, shared, servers_dir)
        for definition in definitions
    }


def carried_forward(
    data: DataDir,
    machine: str,
    profile: str,
    checks: Sequence[str],
    scenarios: Sequence[str],
    wanted: Mapping[str, str],
) -> dict[str, str]:
    """Server id -> the capture whose measurement of it can stand for this one's: the newest
    capture on this machine that measured it with the same profile and a selection covering
    ``checks`` and ``scenarios`` (its files present), when its fingerprint there is the one
    ``wanted`` now. A server whose newest such measurement differs is measured again."""
    decided: dict[str, str | None] = {}
    folder = data.root / "captures" / machine
    for path in sorted(folder.glob("*.json"), reverse=True):
        try:
            record = read_document(path, "capture")
        except DataError:
            continue  # nox -s validate names it
        selection = record["selection"]
        if record["profile"] != profile or not (
            set(checks) <= set(selection["checks"])
            and set(scenarios) <= set(selection["scenarios"])
        ):
            continue
        for server in selection["servers"]:
            if server in decided or server not in wanted:
                continue
            if not _files_present(data, machine, record["capture"], server, checks, scenarios):
                continue  # not measured there (interrupted, or failed to write)
            same = (record.get("fingerprints") or {}).get(server) == wanted[server]
            decided[server] = record["capture"] if same else None
    return {server: capture for server, capture in decided.items() if capture}


def _files_present(
    data: DataDir,
    machine: str,
    capture: str,
    server: str,
    checks: Sequence[str],
    scenarios: Sequence[str],
) -> bool:
    if checks and not data.run_path(machine, capture, server).exists():
        return False
    per_server = [s for s in scenarios if s not in ("calibration", "interleaved")]
    return not per_server or data.benchmark_path(machine, capture, server).exists()
