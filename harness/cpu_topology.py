"""How this machine's CPUs are laid out, for its machine file.

Two facts change what "one pinned CPU" means for a figure: whether two CPUs are hyper-threads
of one core (a server pinned to one and the load tool to its sibling compete for that core's
execution units), and whether a hypervisor runs them (it can steal time from a vCPU, which the
per-CPU steal share of ``/proc/stat`` then shows). Read from sysfs and ``/proc/cpuinfo``; the
hypervisor's vendor from ``lscpu`` (it asks the CPU, which nothing in /proc says). A fact that
cannot be read is None, never a guess.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

SYS_CPU = Path("/sys/devices/system/cpu")
CPUINFO = Path("/proc/cpuinfo")
LSCPU_TIMEOUT_S = 10


def cpu_list(text: str) -> list[int]:
    """The CPUs of a kernel CPU list (``0-3,8,10-11``), ascending."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return sorted(cpus)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def topology_from_sysfs(sys_cpu: Path = SYS_CPU) -> dict[str, Any]:
    """Online CPUs, threads per core, cores per socket and sockets, from ``sys_cpu``'s
    ``online`` and each online CPU's ``topology/`` files."""
    online = _read(sys_cpu / "online")
    facts: dict[str, Any] = {
        "online_cpus": online,
        "threads_per_core": None,
        "cores_per_socket": None,
        "sockets": None,
    }
    if online is None:
        return facts
    siblings, cores = [], set()
    for cpu in cpu_list(online):
        topology = sys_cpu / f"cpu{cpu}" / "topology"
        listed = _read(topology / "thread_siblings_list")
        package, core = _read(topology / "physical_package_id"), _read(topology / "core_id")
        if listed is None or package is None or core is None:
            return facts  # a partial reading would understate what it cannot see
        siblings.append(len(cpu_list(listed)))
        cores.add((package, core))
    if not siblings:
        return facts
    sockets = len({package for package, _ in cores})
    facts.update(
        threads_per_core=max(siblings), cores_per_socket=len(cores) // sockets, sockets=sockets
    )
    return facts


def hypervisor_flag(cpuinfo: str) -> bool | None:
    """Whether the CPU reports that a hypervisor runs it (x86's ``hypervisor`` flag); None
    where ``/proc/cpuinfo`` has no flags line (other architectures)."""
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            return "hypervisor" in value.split()
    return None


def lscpu_field(output: str, field: str) -> str | None:
    """One field of ``lscpu``'s plain output (``Hypervisor vendor:  KVM``), or None."""
    for line in output.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == field:
            return value.strip() or None
    return None


def _lscpu() -> str:
    try:
        completed = subprocess.run(
            ["lscpu"],
            capture_output=True,
            text=True,
            timeout=LSCPU_TIMEOUT_S,
            check=False,
            env={**os.environ, "LC_ALL": "C"},  # field names in English
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return completed.stdout if completed.returncode == 0 else ""


def cpu_topology() -> dict[str, Any]:
    """This machine's CPU layout, as the machine schema's ``cpu_topology`` holds it."""
    cpuinfo = _read(CPUINFO) or ""
    return {
        **topology_from_sysfs(),
        "hypervisor": hypervisor_flag(cpuinfo),
        "hypervisor_vendor": lscpu_field(_lscpu(), "Hypervisor vendor"),
    }
