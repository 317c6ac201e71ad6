"""The machine file's CPU topology: a SYNTHETIC sysfs tree, then this machine's own record."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from evidence.schema import schema_errors
from harness.cpu_topology import (
    cpu_list,
    hypervisor_flag,
    lscpu_field,
    topology_from_sysfs,
)
from harness.provenance import machine_record


def _sysfs(root: Path, online: str, cpus: dict[int, tuple[str, int, int]]) -> Path:
    """A SYNTHETIC /sys/devices/system/cpu: cpu -> (thread siblings, package, core)."""
    (root / "online").parent.mkdir(parents=True, exist_ok=True)
    (root / "online").write_text(online + "\n")
    for cpu, (siblings, package, core) in cpus.items():
        topology = root / f"cpu{cpu}" / "topology"
        topology.mkdir(parents=True)
        (topology / "thread_siblings_list").write_text(siblings + "\n")
        (topology / "physical_package_id").write_text(f"{package}\n")
        (topology / "core_id").write_text(f"{core}\n")
    return root


def test_kernel_cpu_lists_are_read_with_their_ranges() -> None:
    assert cpu_list("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11]
    assert cpu_list("1") == [1]


def test_hyper_threads_of_one_core_are_counted_as_threads_per_core(tmp_path: Path) -> None:
    # Two sockets of two cores, each core two threads (Linux numbers siblings apart).
    layout = {
        0: ("0,4", 0, 0),
        1: ("1,5", 0, 1),
        2: ("2,6", 1, 0),
        3: ("3,7", 1, 1),
        4: ("0,4", 0, 0),
        5: ("1,5", 0, 1),
        6: ("2,6", 1, 0),
        7: ("3,7", 1, 1),
    }
    facts = topology_from_sysfs(_sysfs(tmp_path, "0-7", layout))
    assert facts == {
        "online_cpus": "0-7",
        "threads_per_core": 2,
        "cores_per_socket": 2,
        "sockets": 2,
    }


def test_a_topology_that_cannot_be_read_whole_is_not_guessed(tmp_path: Path) -> None:
    root = _sysfs(tmp_path, "0-1", {0: ("0", 0, 0)})  # cpu1's files are missing
    assert topology_from_sysfs(root)["threads_per_core"] is None
    assert topology_from_sysfs(tmp_path / "absent")["online_cpus"] is None


def test_the_hypervisor_flag_and_vendor_are_read() -> None:
    assert hypervisor_flag("processor\t: 0\nflags\t\t: fpu sse2 hypervisor avx\n") is True
    assert hypervisor_flag("processor\t: 0\nflags\t\t: fpu sse2 avx\n") is False
    assert hypervisor_flag("processor\t: 0\nFeatures\t: fp asimd\n") is None  # arm64
    output = "CPU(s):              2\nHypervisor vendor:   KVM\nVirtualization type: full\n"
    assert lscpu_field(output, "Hypervisor vendor") == "KVM"
    assert lscpu_field("CPU(s): 2\n", "Hypervisor vendor") is None


def test_the_machine_record_carries_this_machine_s_topology() -> None:
    record = machine_record("test-machine")
    assert schema_errors(record, "machine") == []
    topology = record["cpu_topology"]
    assert set(topology) == {
        "online_cpus",
        "threads_per_core",
        "cores_per_socket",
        "sockets",
        "hypervisor",
        "hypervisor_vendor",
    }
    if topology["threads_per_core"] is not None:  # Linux with sysfs
        assert topology["threads_per_core"] * topology["cores_per_socket"] * topology[
            "sockets"
        ] == len(cpu_list(topology["online_cpus"]))
    if shutil.which("lscpu"):  # the same facts, read another way by util-linux
        lscpu = subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=True, env={"LC_ALL": "C"}
        ).stdout
        assert str(topology["threads_per_core"]) == lscpu_field(lscpu, "Thread(s) per core")
        assert str(topology["sockets"]) == lscpu_field(lscpu, "Socket(s)")
        assert topology["hypervisor_vendor"] == lscpu_field(lscpu, "Hypervisor vendor")


def test_a_machine_file_without_topology_is_still_valid() -> None:
    record = machine_record("test-machine")
    del record["cpu_topology"]  # machine files written before it was recorded
    assert schema_errors(record, "machine") == []
    record["cpu_topology"] = {"threads_per_core": 2}  # but a partial one is refused
    assert any("cpu_topology" in error for error in schema_errors(record, "machine"))


@pytest.mark.parametrize("field", ["threads_per_core", "sockets"])
def test_a_topology_count_below_one_is_refused(field: str) -> None:
    record = machine_record("test-machine")
    record["cpu_topology"][field] = 0
    assert any(field in error for error in schema_errors(record, "machine"))
