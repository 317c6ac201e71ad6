"""Which machine id a capture records under: one id per machine, from facts that do not change
between runs of it (``provenance.machine_id``: CPU model, cores, memory in whole GiB,
architecture), or the name ``SERVING_DJANGO_MACHINE`` gives it.

How fast the machine runs is a measurement, not part of its id: the speed probe
(``provenance.speed_probe``) is recorded in each capture's own file, and the interleaved
reference apps each capture measures are how figures of two captures are put side by side. The
probe once chose the id (a machine 25 % or more apart from its id's reference recorded as
``<id>-2``, ...), but one machine's probe read 26.5 to 40 ms in consecutive runs under load, so
runs of one clone landed on different ids at random (issue 33). Ids recorded that way stay as
recorded: a ``<id>-N`` folder in ``data/`` is read, shown and compared as a machine of its own
and never renamed; new captures do not make them. Two machines of one kind that must not be
compared are named apart with ``SERVING_DJANGO_MACHINE``.
"""

from __future__ import annotations

from dataclasses import dataclass

from evidence.documents import read_document, write_document
from evidence.files import ExistingFile
from evidence.layout import DataDir
from harness.provenance import machine_record, memory_class

# What identifies hardware; the OS may be upgraded under the same hardware. Memory is compared
# in whole GiB, as the machine id counts it.
HARDWARE_FIELDS = ("cpu_model", "cores", "memory_bytes", "arch")


@dataclass(frozen=True)
class Identity:
    machine: str  # the id to record under
    problem: str | None = None  # why the capture must not go on


def _hardware(record: dict) -> dict:
    return {**record, "memory_bytes": memory_class(record["memory_bytes"])}


def other_hardware(existing: dict, record: dict) -> list[str]:
    return [
        name for name in HARDWARE_FIELDS if _hardware(existing)[name] != _hardware(record)[name]
    ]


def choose_identity(data: DataDir, machine: str) -> Identity:
    """``machine`` with its machine file, written if it is new (a machine file is never
    rewritten: earlier runs refer to it); a problem when that file describes other hardware."""
    record = machine_record(machine)
    path = data.machine_path(machine)
    try:
        write_document(path, record, "machine")
        return Identity(machine)
    except ExistingFile:
        pass
    existing = read_document(path, "machine")
    differing = other_hardware(existing, record)
    if differing:
        return Identity(
            machine,
            problem=(
                f"{path} describes other hardware ({', '.join(differing)} differ: "
                f"{', '.join(repr(existing.get(name)) for name in differing)} there, "
                f"{', '.join(repr(record[name]) for name in differing)} here); name this "
                "machine differently with SERVING_DJANGO_MACHINE"
            ),
        )
    return Identity(machine)
