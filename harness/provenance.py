"""Facts about where and how a measurement was made, gathered by small functions."""

from __future__ import annotations

import hashlib
import os
import platform
import re
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evidence.layout import REPO_ROOT
from evidence.schema import SCHEMA_VERSION
from harness.cpu_topology import cpu_topology


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def capture_id(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cores() -> int:
    return os.cpu_count() or 1


def memory_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1


def os_name() -> str:
    try:
        text = Path("/etc/os-release").read_text()
        match = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', text, re.MULTILINE)
        if match:
            return match.group(1)
    except OSError:
        pass
    return platform.platform()


def kernel() -> str:
    return platform.release()


def _git(*args: str) -> str | None:
    try:
        completed = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


def git_commit() -> str | None:
    return _git("rev-parse", "HEAD")


def git_dirty() -> bool | None:
    """Whether code differs from the commit (``data/`` itself does not count)."""
    status = _git("status", "--porcelain", "--", ".", ":(exclude)data")
    return None if status is None else bool(status)


def code_fingerprint() -> str | None:
    """A digest of the code as it is on disk: the commit, uncommitted changes and untracked
    files (``data/`` left out). Two runs with the same fingerprint ran the same code, dirty
    tree or not; a resumed capture must match the one it continues."""
    commit = git_commit()
    diff = _git_bytes("diff", "HEAD", "--binary", "--", ".", ":(exclude)data")
    untracked = _git("ls-files", "--others", "--exclude-standard", "--", ".", ":(exclude)data")
    if commit is None or diff is None or untracked is None:
        return None
    digest = hashlib.sha256(commit.encode() + b"\0" + diff)
    for name in sorted(filter(None, untracked.splitlines())):
        path = REPO_ROOT / name
        digest.update(b"\0" + name.encode())
        if path.is_file():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _git_bytes(*args: str) -> bytes | None:
    try:
        completed = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, timeout=30, check=False
        )
    except OSError:
        return None
    return completed.stdout if completed.returncode == 0 else None


def memory_class(size_bytes: int) -> int:
    """Memory as the machine id counts it: whole GiB. Machines of one kind report a few hundred
    KiB more or less (what the kernel reserves differs), and are still the same class."""
    return round(size_bytes / 2**30)


def machine_id() -> str:
    """A stable name for this machine, from hardware facts only (hostnames change with every
    container; a speed probe changes from run to run). Override with SERVING_DJANGO_MACHINE to
    name it yourself."""
    chosen = os.environ.get("SERVING_DJANGO_MACHINE")
    if chosen:
        return chosen
    facts = f"{cpu_model()}|{cores()}|{memory_class(memory_bytes())}|{platform.machine()}"
    words = re.sub(r"[^a-z0-9]+", "-", cpu_model().lower()).strip("-")[:40].strip("-")
    digest = hashlib.sha256(facts.encode()).hexdigest()[:8]
    return f"{words or 'machine'}-{cores()}c-{digest}"


# The speed probe: a fixed pure-Python loop (Django's work is interpreter-bound), best of several
# samples of its CPU time (not wall time, so that a busy machine does not look slow).
PROBE_SAMPLES = 7
PROBE_LOOP = 300_000


def speed_probe() -> dict[str, Any]:
    """How fast this machine ran a fixed Python loop when a capture began, in milliseconds:
    recorded beside the capture's figures, never part of the machine id (one machine's probe
    moves by up to half between runs under load)."""
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


def machine_record(identifier: str) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "id": identifier,
        "cpu_model": cpu_model(),
        "cores": cores(),
        "memory_bytes": memory_bytes(),
        "os": os_name(),
        "arch": platform.machine(),
        "python_implementation": platform.python_implementation(),
        # Recorded, not part of the id: whether CPUs are hyper-threads of one core and whether
        # a hypervisor runs them (it can steal time, which the per-CPU figures show).
        "cpu_topology": cpu_topology(),
    }
