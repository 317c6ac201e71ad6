"""End what an earlier, killed harness left running, before a capture measures anything.

A capture killed with SIGKILL runs no cleanup: its servers (each in a process group of its
own), PostgreSQL, nginx and load tools go on running, and would share the machine with the
next capture's measurements. ``harness/process_registry.py`` wrote down each of them; here a
record whose owner (pid and creation time) is gone is taken as left over, and its processes
are found three ways, each guarded against a pid or group id reused since:

- the recorded pid, if it still has the recorded creation time;
- its process group (PostgreSQL's backends, nginx's worker, a server's workers), if the group
  leader is gone or is still the recorded process;
- the port it listened on, for a server that detached from its group, if the listener was
  created after the recorded process;

and, without any record, every process whose environment carries the marker of a dead owner
(a server that detached right after it was started). Scratch folders of dead owners are
removed. The caller prints what was ended.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import psutil

from harness.process import wait_ended
from harness.process_registry import (
    OWNER_VARIABLE,
    ProcessRecord,
    owner_alive,
    read_process_records,
    read_scratch_records,
)

END_TIMEOUT_S = 10.0


@dataclass
class Leftovers:
    ended: list[str] = field(default_factory=list)  # "nginx: pid 12 (nginx: worker process)"
    still_running: list[str] = field(default_factory=list)
    removed_folders: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What to print: one line per process ended and folder removed; none when clean."""
        return [
            *(f"ended a process left by a killed capture: {line}" for line in self.ended),
            *(f"could NOT end a left-over process: {line}" for line in self.still_running),
            *(f"removed a left-over scratch folder: {path}" for path in self.removed_folders),
        ]


def end_leftovers() -> Leftovers:
    """End every process and remove every scratch folder that a dead harness left."""
    records = [
        (path, record) for path, record in read_process_records() if not owner_alive(record.owner)
    ]
    found = _left_over_processes([record for _, record in records])
    for process in found:
        with contextlib.suppress(psutil.Error):
            process.kill()  # psutil refuses if the pid now belongs to another process
    for record in records:
        if record[1].group is not None and _group_is_ours(record[1]):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(record[1].group, signal.SIGKILL)
    running = set(wait_ended(list(found), END_TIMEOUT_S))
    leftovers = Leftovers(
        ended=[found[process] for process in found if process not in running],
        still_running=[found[process] for process in running],
    )
    for path, _ in records:
        path.unlink(missing_ok=True)
    for path, scratch in read_scratch_records():
        if not owner_alive(scratch.owner):
            if Path(scratch.path).exists():
                shutil.rmtree(scratch.path, ignore_errors=True)
                leftovers.removed_folders.append(scratch.path)
            path.unlink(missing_ok=True)
    return leftovers


def _protected() -> set[int]:
    """This process and its ancestors: never ended, whatever they carry."""
    me = psutil.Process()
    return {me.pid, *(parent.pid for parent in me.parents())}


def _left_over_processes(records: list[ProcessRecord]) -> dict[psutil.Process, str]:
    """Each left-over process, with what it is."""
    protected = _protected()
    by_pid = {record.pid: record for record in records}
    by_group = {r.group: r for r in records if r.group is not None and _group_is_ours(r)}
    by_port = _listeners_by_port({record.port for record in records if record.port})
    port_records = {record.port: record for record in records if record.port}
    found: dict[psutil.Process, str] = {}
    for process in psutil.process_iter(["pid", "status", "create_time"]):
        info = process.info
        if info["pid"] in protected or info["status"] == psutil.STATUS_ZOMBIE:
            continue
        record = _recorded_as(process, by_pid, by_group)
        if record is None:
            for port, pids in by_port.items():
                candidate = port_records[port]
                if info["pid"] in pids and _created_after(process, candidate):
                    record = candidate
        if record is not None:
            found[process] = _describe(process, record.kind + _detached_note(process, record))
        elif (marker := _dead_marker(process)) is not None:
            found[process] = _describe(process, f"a process of a killed harness ({marker})")
    return found


def _recorded_as(
    process: psutil.Process,
    by_pid: dict[int, ProcessRecord],
    by_group: dict[int | None, ProcessRecord],
) -> ProcessRecord | None:
    record = by_pid.get(process.pid)
    if record is not None and process.info["create_time"] == record.create_time:
        return record
    try:
        group = os.getpgid(process.pid)
    except OSError:
        return None
    record = by_group.get(group)
    if record is not None and _created_after(process, record):
        return record
    return None


def _group_is_ours(record: ProcessRecord) -> bool:
    """Whether the recorded group id still names the recorded process's group: its leader is
    the recorded process, or is gone (Linux gives no new process the id of a live group)."""
    try:
        leader = psutil.Process(record.group)
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False
    return record.group != record.pid or leader.create_time() == record.create_time


def _created_after(process: psutil.Process, record: ProcessRecord) -> bool:
    created = process.info.get("create_time")
    return created is not None and (record.create_time is None or created >= record.create_time)


def _detached_note(process: psutil.Process, record: ProcessRecord) -> str:
    if process.pid == record.pid:
        return ""
    try:
        group = os.getpgid(process.pid)
    except OSError:
        return ""
    return "" if group == record.group else f", detached from its group, listening on {record.port}"


def _listeners_by_port(ports: set[int]) -> dict[int, set[int]]:
    listening: dict[int, set[int]] = {port: set() for port in ports}
    if not ports:
        return listening
    for connection in psutil.net_connections(kind="tcp"):
        if (
            connection.status == psutil.CONN_LISTEN
            and connection.laddr.port in ports
            and connection.pid is not None
        ):
            listening[connection.laddr.port].add(connection.pid)
    return listening


def _dead_marker(process: psutil.Process) -> str | None:
    """The owner marker in the process's environment, if its owner is gone."""
    try:
        marker = process.environ().get(OWNER_VARIABLE)
    except psutil.Error:
        return None
    if marker is None or owner_alive(marker.partition("/")[0]):
        return None
    return marker


def _describe(process: psutil.Process, what: str) -> str:
    try:
        command = " ".join(process.cmdline())[:160] or process.name()
    except psutil.Error:
        command = "?"
    return f"{what}: pid {process.pid} ({command})"


def end_and_report_leftovers(stream: TextIO) -> Leftovers:
    """``end_leftovers``, saying on ``stream`` what was ended (nothing when nothing was left)."""
    leftovers = end_leftovers()
    for line in leftovers.lines():
        print(line, file=stream)
    return leftovers
