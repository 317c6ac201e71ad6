"""What the harness has running now, written down so that it can be ended even after the harness
itself was killed (``kill -9``), when no ``finally`` and no ``atexit`` runs.

Two records, both in the clone's ``.state/`` (gitignored; ``SERVING_DJANGO_STATE_DIR`` moves it):

- ``processes/<pid>-<n>.json``, one per process the harness started (a server, PostgreSQL,
  nginx, a load tool, the upstream service, an installer): its pid and creation time (a pid
  can be reused; the pair cannot), its process group, the port it listens on, its scratch
  folder, what it is, and which harness process owns it. Written as soon as the process
  exists, removed once the harness has ended it.
- ``scratch/<name>.json``, one per scratch folder (``scratch_folder`` replaces
  ``tempfile.TemporaryDirectory``), removed with the folder.

Every process is also started with ``OWNER_VARIABLE`` in its environment, naming its owner and
itself. Children inherit it, so a process that left its process group (``setsid``, a
daemonising worker) can still be found as ours, even one forked a moment before the record
was written. ``harness/leftovers.py`` reads all of this when a capture starts.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR_VARIABLE = "SERVING_DJANGO_STATE_DIR"
OWNER_VARIABLE = "SERVING_DJANGO_OWNER"  # "<owner pid>:<owner create time>/<process number>"

_numbers = itertools.count(1)
_numbers_lock = threading.Lock()


def state_dir() -> Path:
    return Path(os.environ.get(STATE_DIR_VARIABLE) or REPO_ROOT / ".state")


def processes_dir() -> Path:
    return state_dir() / "processes"


def scratch_records_dir() -> Path:
    return state_dir() / "scratch"


def create_time(pid: int) -> float | None:
    """When ``pid`` was created (psutil's, to the tick), or None if there is no such process."""
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def owner_token() -> str:
    """This harness process, as a pid that cannot be confused with a later reuse of it.
    Computed per call: a forked test child is an owner of its own."""
    pid = os.getpid()
    return f"{pid}:{create_time(pid)!r}"


def owner_alive(token: str) -> bool:
    pid, _, created = token.partition(":")
    try:
        return repr(create_time(int(pid))) == created
    except ValueError:
        return False


def new_marker() -> str:
    """The value of ``OWNER_VARIABLE`` for one process about to start."""
    with _numbers_lock:
        number = next(_numbers)
    return f"{owner_token()}/{number}"


def marked_env(env: Mapping[str, str] | None, marker: str) -> dict[str, str]:
    """``env`` (default: this process's) with the marker that makes its processes findable."""
    return {**(os.environ if env is None else env), OWNER_VARIABLE: marker}


@dataclass(frozen=True)
class ProcessRecord:
    pid: int
    create_time: float | None
    group: int | None
    kind: str  # "server gunicorn-sync", "PostgreSQL", "nginx", "locust", "h2load"...
    command: list[str]
    port: int | None
    scratch: str | None
    marker: str  # its OWNER_VARIABLE value; the owner is the part before "/"

    @property
    def owner(self) -> str:
        return self.marker.partition("/")[0]

    def describe(self) -> str:
        shown = " ".join(self.command)[:160]
        port = f", port {self.port}" if self.port else ""
        return f"{self.kind}: pid {self.pid}{port} ({shown})"


def record_process(
    pid: int,
    kind: str,
    command: Sequence[str],
    marker: str,
    *,
    port: int | None = None,
    scratch: Path | None = None,
) -> Path | None:
    """Write the record of a process just started; its path, to ``forget`` it once ended.
    None when the state folder cannot be written: the process is still ended by this harness,
    and found by its marker if the harness is killed."""
    try:
        group: int | None = os.getpgid(pid)
    except OSError:
        group = None
    record = ProcessRecord(
        pid, create_time(pid), group, kind, list(command), port, str(scratch or "") or None, marker
    )
    return _write(processes_dir() / f"{pid}-{marker.rpartition('/')[2]}.json", asdict(record))


def forget(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def read_process_records() -> list[tuple[Path, ProcessRecord]]:
    records = []
    for path, data in _read_all(processes_dir()):
        try:
            records.append((path, ProcessRecord(**data)))
        except TypeError:  # not a record of this version: nothing to trust in it
            path.unlink(missing_ok=True)
    return records


@dataclass(frozen=True)
class ScratchRecord:
    path: str
    owner: str


def read_scratch_records() -> list[tuple[Path, ScratchRecord]]:
    records = []
    for path, data in _read_all(scratch_records_dir()):
        try:
            records.append((path, ScratchRecord(**data)))
        except TypeError:
            path.unlink(missing_ok=True)
    return records


@contextmanager
def scratch_folder(prefix: str) -> Iterator[Path]:
    """A new folder under the system's temporary directory, removed when the block ends, and
    recorded while it exists so that a capture killed meanwhile does not leave it behind."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    record = _write(
        scratch_records_dir() / f"{folder.name}.json",
        asdict(ScratchRecord(str(folder), owner_token())),
    )
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        forget(record)


def _write(path: Path, data: dict[str, object]) -> Path | None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, sort_keys=True) + "\n", encoding="utf-8")
        temporary.replace(path)
    except OSError:
        return None
    return path


def _read_all(folder: Path) -> Iterator[tuple[Path, dict]]:
    for path in sorted(folder.glob("*.json")):
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                yield path, data
