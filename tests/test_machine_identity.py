"""One machine records under one id: from facts that do not change between its runs, never
from how fast it happened to run (issue 33: the speed probe chose `<id>-2` at random)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from evidence.documents import read_document, write_document
from evidence.layout import REPO_ROOT, DataDir
from harness.machine_identity import choose_identity
from harness.provenance import machine_id, machine_record

# Twenty runs of what a capture does to know its machine, in a process of their own: the probe
# it records, then the id.
TWENTY_RUNS = """
import json, sys
from pathlib import Path
from evidence.layout import DataDir
from harness.machine_identity import choose_identity
from harness.provenance import machine_id, speed_probe
for _ in range(20):
    probe = speed_probe()
    identity = choose_identity(DataDir(Path(sys.argv[1])), machine_id())
    print(json.dumps({"machine": identity.machine, "problem": identity.problem, "probe": probe}))
"""
HOG = "while True: pass"


def test_the_machine_id_is_the_same_over_20_runs_beside_a_cpu_hog(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "SERVING_DJANGO_MACHINE"}
    hog = subprocess.Popen([sys.executable, "-c", HOG])
    try:
        completed = subprocess.run(
            [sys.executable, "-c", TWENTY_RUNS, str(tmp_path)],
            cwd=REPO_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        hog.kill()
        hog.wait()
    assert completed.returncode == 0, completed.stderr
    runs = [json.loads(line) for line in completed.stdout.splitlines()]
    assert len(runs) == 20
    assert {run["machine"] for run in runs} == {machine_id()}, runs
    assert all(run["problem"] is None for run in runs)
    assert [path.stem for path in DataDir(tmp_path).machine_paths()] == [machine_id()]
    # The probe is still measured every time (each capture records its own).
    assert all(run["probe"]["python_loop_ms"] > 0 for run in runs)


def test_a_machine_file_with_a_far_other_probe_is_still_this_machine(tmp_path: Path) -> None:
    """A machine file from an earlier run (or an older checkout) whose probe read 1.7 times
    this one's: the same id, no `-2` machine, the file untouched."""
    data = DataDir(tmp_path)
    base = machine_id()
    earlier = {**machine_record(base), "speed_probe": {"python_loop_ms": 51.0, "method": "t"}}
    write_document(data.machine_path(base), earlier, "machine")
    before = data.machine_path(base).read_bytes()

    assert choose_identity(data, base).machine == base
    assert choose_identity(data, base).problem is None
    assert [path.stem for path in data.machine_paths()] == [base]
    assert data.machine_path(base).read_bytes() == before


def test_a_new_machine_file_holds_hardware_facts_only(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    assert choose_identity(data, "a-named-machine").problem is None
    written = read_document(data.machine_path("a-named-machine"), "machine")
    assert written == machine_record("a-named-machine")
    assert "speed_probe" not in written


def test_a_machine_file_differing_by_a_little_memory_is_this_machine(tmp_path: Path) -> None:
    """Machines of one kind report memory a few hundred KiB apart; the id counts whole GiB,
    and so does the check against the committed machine file."""
    data = DataDir(tmp_path)
    identifier = machine_id()
    committed = machine_record(identifier)
    committed["memory_bytes"] += 524_288 if committed["memory_bytes"] % 2**30 < 2**29 else -524_288
    write_document(data.machine_path(identifier), committed, "machine")
    assert choose_identity(data, identifier) == choose_identity(data, identifier)
    assert choose_identity(data, identifier).machine == identifier
    assert choose_identity(data, identifier).problem is None

    other = DataDir(tmp_path / "other")
    committed["memory_bytes"] += 4 * 2**30  # another size class is other hardware
    write_document(other.machine_path(identifier), committed, "machine")
    assert "memory_bytes differ" in (choose_identity(other, identifier).problem or "")
