"""capture --changed: only configurations whose inputs changed are measured again; the others
are carried forward, named with the capture that stands for them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.definitions import load_definitions
from harness.fingerprints import configuration_fingerprint, shared_digest
from tests.test_capture import COMMANDS, DEFINITION, _harness

pytestmark = pytest.mark.servers


def _servers(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for server_id in ("good", "twin"):
        text = DEFINITION.format(id=server_id, command=COMMANDS["good"])
        (directory / f"{server_id}.toml").write_text(text)
    return directory


def test_a_definition_changes_its_own_fingerprint_and_shared_code_changes_all(
    tmp_path: Path,
) -> None:
    servers = _servers(tmp_path / "servers")
    (tmp_path / "harness").mkdir()
    (tmp_path / "harness" / "check.py").write_text("A = 1\n")
    before = shared_digest(tmp_path)
    definitions = load_definitions(servers)
    prints = {
        i: configuration_fingerprint(d, "quick", before, servers) for i, d in definitions.items()
    }
    assert prints["good"] != prints["twin"]
    assert (
        configuration_fingerprint(definitions["good"], "standard", before, servers)
        != prints["good"]
    )

    (servers / "twin.toml").write_text((servers / "twin.toml").read_text() + "# edited\n")
    edited = load_definitions(servers)
    after = {i: configuration_fingerprint(d, "quick", before, servers) for i, d in edited.items()}
    assert after["good"] == prints["good"] and after["twin"] != prints["twin"]

    (tmp_path / "harness" / "check.py").write_text("A = 2\n")
    changed = shared_digest(tmp_path)
    assert all(
        configuration_fingerprint(d, "quick", changed, servers) != after[i]
        for i, d in edited.items()
    )


def _capture(*argv: str) -> tuple[int, str]:
    process = _harness(*argv, env={**os.environ, "SERVING_DJANGO_MACHINE": "test-machine"})
    output, _ = process.communicate(timeout=300)
    return process.returncode, output


def test_changed_measures_only_the_edited_configuration(
    tmp_path: Path, environments_dir: Path
) -> None:
    servers = _servers(tmp_path / "servers")
    data = tmp_path / "data"
    argv = [
        "capture", "--quick", "--check", "concurrency-sync-sleep",
        "--servers-dir", str(servers), "--data-dir", str(data),
        "--environments-dir", str(environments_dir),
    ]  # fmt: skip
    captures = data / "captures" / "test-machine"

    code, said = _capture(*argv)
    assert code == 0, said
    [first] = sorted(captures.glob("*.json"))
    assert set(json.loads(first.read_text())["fingerprints"]) == {"good", "twin"}

    code, said = _capture(*argv, "--changed")
    assert code == 0, said
    assert f"good: unchanged since capture {first.stem}" in said
    assert "nothing to measure" in said
    assert sorted(captures.glob("*.json")) == [first]  # no capture was started

    (servers / "twin.toml").write_text((servers / "twin.toml").read_text() + "# edited\n")
    code, said = _capture(*argv, "--changed")
    assert code == 0, said
    assert "changed, measured again: twin" in said
    second = next(path for path in sorted(captures.glob("*.json")) if path != first)
    record = json.loads(second.read_text())
    assert record["selection"]["servers"] == ["twin"]
    assert record["carried_forward"] == {"good": first.stem}
    assert sorted(p.stem for p in data.glob(f"runs/test-machine/{second.stem}/*.json")) == ["twin"]
