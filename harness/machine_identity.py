"""Which machine id a capture records under: the hardware's, unless this machine is much faster
or slower than the machine that already records under it.

Two machines of one kind (same CPU model, cores, memory class) can measure 1.5 to 2 times apart
for the same code and command, so the hardware facts alone cannot say whether figures are
comparable. A speed probe does: the CPU time of a fixed pure-Python loop (Django's work is
interpreter-bound), best of several samples. CPU time, not wall time, so a busy machine does
not look slow. A machine whose probe lies within ``SAME_SPEED_RATIO`` of the id's reference
shares the id; otherwise it records under the first ``<id>-2``, ``<id>-3``, ... whose reference
it matches (or a new one), without anything for the user to set. The reference is the probe in
the id's machine file, else the oldest capture file under the id that recorded one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from evidence.documents import read_document, write_document
from evidence.layout import DataDir
from harness.provenance import machine_record, memory_class

# Machines whose probes differ by less than this factor are one class; the same machine's
# probe moves by a few percent between runs.
SAME_SPEED_RATIO = 1.25
PROBE_SAMPLES = 7
PROBE_LOOP = 300_000
MOST_SPEED_CLASSES = 9
# What identifies hardware; the OS may be upgraded under the same hardware. Memory is compared
# in whole GiB, as the machine id counts it.
HARDWARE_FIELDS = ("cpu_model", "cores", "memory_bytes", "arch")


def speed_probe() -> dict[str, Any]:
    """The best CPU time of a fixed pure-Python loop, in milliseconds."""
    samples = []
    for _ in range(PROBE_SAMPLES):
        started = time.thread_time_ns()
        total = 0
        for number in range(PROBE_LOOP):
            total += number * number % 7
        samples.append((time.thread_time_ns() - started) / 1e6)
    return {
        "python_loop_ms": round(min(samples), 3),
        "method": f"best CPU time of {PROBE_SAMPLES} runs of a {PROBE_LOOP:,}-step Python loop",
    }


@dataclass(frozen=True)
class Identity:
    machine: str  # the id to record under
    problem: str | None = None  # why the capture must not go on
    note: str | None = None  # what the user should know (a speed class of its own)


def _hardware(record: dict) -> dict:
    return {**record, "memory_bytes": memory_class(record["memory_bytes"])}


def other_hardware(existing: dict, record: dict) -> list[str]:
    return [
        name for name in HARDWARE_FIELDS if _hardware(existing)[name] != _hardware(record)[name]
    ]


def reference_speed(data: DataDir, machine: str) -> float | None:
    """The probe a machine id is known by: its machine file's, else its oldest capture's."""
    path = data.machine_path(machine)
    if path.exists():
        probe = read_document(path, "machine").get("speed_probe")
        if probe:
            return probe["python_loop_ms"]
    for capture_path in (p for p in data.capture_paths() if p.parent.name == machine):
        probe = read_document(capture_path, "capture").get("speed_probe")
        if probe:
            return probe["python_loop_ms"]
    return None


def same_speed(reference_ms: float | None, probe_ms: float) -> bool:
    if reference_ms is None:  # nothing to compare with: the hardware decides
        return True
    ratio = max(reference_ms, probe_ms) / min(reference_ms, probe_ms)
    return ratio < SAME_SPEED_RATIO


def choose_identity(
    data: DataDir, base: str, probe: dict[str, Any], named_by_user: bool = False
) -> Identity:
    """The id this machine records under, writing its machine file if it is new (machine
    files are never rewritten: earlier runs refer to them)."""
    record = machine_record(base)
    candidates = (
        [base]
        if named_by_user
        else [base] + [f"{base}-{number}" for number in range(2, MOST_SPEED_CLASSES + 1)]
    )
    for candidate in candidates:
        path = data.machine_path(candidate)
        if not path.exists():
            write_document(path, {**record, "id": candidate, "speed_probe": probe}, "machine")
            return Identity(candidate, note=_own_class_note(data, base, candidate, probe))
        existing = read_document(path, "machine")
        differing = other_hardware(existing, record)
        if differing:
            return Identity(
                candidate,
                problem=(
                    f"{path} describes other hardware ({', '.join(differing)} differ: "
                    f"{', '.join(repr(existing.get(name)) for name in differing)} there, "
                    f"{', '.join(repr(record[name]) for name in differing)} here); name this "
                    "machine differently with SERVING_DJANGO_MACHINE"
                ),
            )
        if named_by_user or same_speed(reference_speed(data, candidate), probe["python_loop_ms"]):
            return Identity(candidate, note=_own_class_note(data, base, candidate, probe))
    return Identity(
        base,
        problem=f"{MOST_SPEED_CLASSES} speed classes of {base} exist already and none matches "
        f"this machine's probe ({probe['python_loop_ms']:g} ms); name it with "
        "SERVING_DJANGO_MACHINE",
    )


def _own_class_note(data: DataDir, base: str, chosen: str, probe: dict[str, Any]) -> str | None:
    if chosen == base:
        return None
    reference = reference_speed(data, base)
    known = "unknown" if reference is None else f"{reference:g} ms"
    return (
        f"this machine's speed probe ({probe['python_loop_ms']:g} ms) is 25 % or more apart from "
        f"{base}'s ({known}): its figures are recorded as machine {chosen}, never compared with "
        f"{base}'s as if alike"
    )
