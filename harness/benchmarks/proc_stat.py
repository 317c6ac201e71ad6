"""How busy each CPU was, and how much time the hypervisor stole from it, from ``/proc/stat``.

A process tree's CPU time says what one program used; it cannot say whether the CPU it ran on
had time left, since the server, nginx and PostgreSQL share one pinned CPU here. The kernel's
per-CPU counters can: each ``cpuN`` line of ``/proc/stat`` counts, in clock ticks since boot,
the time that CPU spent in user, nice, system, idle, iowait, irq, softirq and steal (then guest
and guest_nice, which are already inside user and nice, so they are not added again; see
proc(5)). Over a step, busy is user + nice + system + irq + softirq and steal is the time the
vCPU was ready but the hypervisor ran something else, both as shares of all the ticks that
passed, so a saturated CPU reads near 100 % busy, or busy + steal near 100 % on a crowded host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROC_STAT = Path("/proc/stat")
FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq")


class ProcStatError(ValueError):
    """A ``/proc/stat`` text whose CPU lines cannot be read; the message names the line."""


@dataclass(frozen=True)
class CpuTicks:
    """One CPU's counters (clock ticks since boot) from one reading of ``/proc/stat``."""

    user: int
    nice: int
    system: int
    idle: int
    iowait: int
    irq: int
    softirq: int
    steal: int

    @property
    def total(self) -> int:
        return sum(getattr(self, name) for name in FIELDS)

    @property
    def busy(self) -> int:
        return sum(getattr(self, name) for name in BUSY_FIELDS)


@dataclass(frozen=True)
class CpuShare:
    """One CPU over an interval: shares of the ticks that passed, in percent."""

    busy_percent: float
    steal_percent: float


def parse_proc_stat(text: str, source: str = str(PROC_STAT)) -> dict[int, CpuTicks]:
    """CPU number -> its counters, from the ``cpuN`` lines (the ``cpu`` total line is left out:
    a saturated CPU beside an idle one reads 50 % there). Older kernels print fewer than eight
    counters; the missing ones (steal, then softirq and irq) count as zero."""
    cpus = {}
    for number, line in enumerate(text.splitlines(), start=1):
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu":
            continue
        values = rest.split()
        try:
            cpu = int(name.removeprefix("cpu"))
            counters = [int(value) for value in values[: len(FIELDS)]]
        except ValueError as error:
            raise ProcStatError(f"{source}, line {number}: not a CPU line: {line!r}") from error
        if len(counters) < 4:  # user nice system idle: every kernel prints these
            raise ProcStatError(f"{source}, line {number}: fewer than 4 counters: {line!r}")
        counters += [0] * (len(FIELDS) - len(counters))
        cpus[cpu] = CpuTicks(*counters)
    if not cpus:
        raise ProcStatError(f"{source}: no cpuN line")
    return cpus


def read_proc_stat(path: Path = PROC_STAT) -> dict[int, CpuTicks] | None:
    """This machine's per-CPU counters now; None where there is no ``/proc/stat`` (not Linux)."""
    try:
        text = path.read_text(encoding="ascii")
    except OSError:
        return None
    return parse_proc_stat(text, str(path))


def shares_between(
    before: Mapping[int, CpuTicks], after: Mapping[int, CpuTicks]
) -> dict[int, CpuShare]:
    """Each CPU's busy and steal shares between two readings. A CPU absent from either reading
    (taken offline meanwhile), or on which no tick passed, is left out."""
    shares = {}
    for cpu in sorted(before.keys() & after.keys()):
        elapsed = after[cpu].total - before[cpu].total
        if elapsed <= 0:
            continue
        busy = after[cpu].busy - before[cpu].busy
        steal = after[cpu].steal - before[cpu].steal
        shares[cpu] = CpuShare(
            busy_percent=round(busy / elapsed * 100, 1),
            steal_percent=round(steal / elapsed * 100, 1),
        )
    return shares
