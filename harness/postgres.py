"""PostgreSQL for the polls reproduction: Debian's server, in a scratch data directory, started
and ended by the harness.

The article it reproduces ("A Guide to ASGI in Django 3.0 and its Performance", 2020) ran the
polls app on PostgreSQL; SQLite locks the whole database on every vote, which is another test.
PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user (made by
Debian's package) through ``setpriv``, which execs in place: the process the harness holds is
the postmaster itself, in its own process group, so Ctrl-C ends it with every backend.

Settings are PostgreSQL's defaults (``max_connections`` 100, as in the article's Docker image),
except that it listens on 127.0.0.1 only, on a port the harness chose, with trust
authentication: the scratch cluster holds sample polls and lives as long as one figure's runs.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.network import HOST, free_port
from harness.process import ServerProcess, StartError, log_tail, with_cause
from harness.process_registry import scratch_folder

DATABASE = "polls"
SUPERUSER = "postgres"
UNPRIVILEGED_USER = "postgres"  # Debian's postgresql package creates it
READY_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 120.0
STOP_GRACE_S = 10.0
INSTALL_HINT = "install it with `apt-get install postgresql-15` (requirements/system-packages.txt)"


class PostgresUnavailable(Exception):
    """PostgreSQL is missing or could not be set up; the message says what to do or shows its
    own output."""


@dataclass(frozen=True)
class PostgresInstance:
    port: int
    version: str
    process: ServerProcess

    @property
    def url(self) -> str:
        """The sample project's DATABASE_URL."""
        return self.url_of(DATABASE)

    def url_of(self, database: str) -> str:
        """The URL of another database of the cluster (one a check made for itself)."""
        return f"postgres://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def as_record(self) -> dict[str, object]:
        return {"server": "PostgreSQL", "version": self.version, "port": self.port}


def find_bin_dir() -> Path | None:
    """Debian's newest /usr/lib/postgresql/<major>/bin, else the directory of ``postgres``."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=_major, reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("postgres")
    return Path(found).resolve().parent if found else None


def _major(path: str) -> int:
    try:
        return int(Path(path).parts[-3])
    except ValueError:
        return 0


def as_unprivileged(argv: list[str]) -> list[str]:
    """``argv`` run as the postgres user when we are root; unchanged otherwise."""
    if os.geteuid() != 0:
        return argv
    return [
        "setpriv",
        "--reuid",
        UNPRIVILEGED_USER,
        "--regid",
        UNPRIVILEGED_USER,
        "--init-groups",
        *argv,
    ]


def _run(argv: list[str], what: str) -> str:
    try:
        completed = subprocess.run(
            argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PostgresUnavailable(f"{what} failed: {error}") from error
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip().splitlines()[-5:]
        raise PostgresUnavailable(f"{what} failed ({completed.returncode}): {' '.join(output)}")
    return completed.stdout


def _owned_by_postgres(directory: Path) -> None:
    if os.geteuid() != 0:
        return
    try:
        user = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError as error:
        raise PostgresUnavailable(
            f"there is no {UNPRIVILEGED_USER!r} user to run PostgreSQL as (it refuses root): "
            f"{INSTALL_HINT}"
        ) from error
    for path in [directory, *directory.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid)


@contextmanager
def running_postgres(prefix: tuple[str, ...] = ()) -> Iterator[PostgresInstance]:
    """A fresh cluster in a directory of its own (under the system's temporary directory, which
    the postgres user can reach; removed afterwards) with an empty ``polls`` database,
    answering on 127.0.0.1; stopped (fast shutdown, then killed) when the block ends, however
    it ends. PostgresUnavailable when it is missing or cannot be set up; StartError when it
    starts but does not answer."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable(f"PostgreSQL was not found: {INSTALL_HINT}")
    with (
        scratch_folder("serving-django-postgres-") as tmp,
        _cluster(bin_dir, tmp, prefix) as instance,
    ):
        yield instance


@contextmanager
def _cluster(bin_dir: Path, directory: Path, prefix: tuple[str, ...]) -> Iterator[PostgresInstance]:
    data, sockets = directory / "data", directory / "sockets"
    sockets.mkdir()
    _owned_by_postgres(directory)
    version = _run([str(bin_dir / "postgres"), "--version"], "postgres --version").strip()
    _run(
        as_unprivileged(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        "initdb",
    )
    port = free_port()
    process = ServerProcess(
        [
            *prefix,
            *as_unprivileged(
                [
                    str(bin_dir / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(port),
                    "-c",
                    f"listen_addresses={HOST}",
                    "-c",
                    f"unix_socket_directories={sockets}",
                ]
            ),
        ],
        cwd=directory,
        env={"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C.UTF-8"},
        log_path=directory / "postgres.log",
        stop_signal="SIGINT",  # PostgreSQL's fast shutdown: end sessions, then stop
        kind="PostgreSQL",
        port=port,
    )
    try:
        process.start()
        _wait_ready(bin_dir, port, process, directory / "postgres.log")
        _run(
            [str(bin_dir / "createdb"), "-h", HOST, "-p", str(port), "-U", SUPERUSER, DATABASE],
            "createdb",
        )
        yield PostgresInstance(port, version, process)
    finally:
        process.stop(grace_s=STOP_GRACE_S)


def _wait_ready(bin_dir: Path, port: int, process: ServerProcess, log: Path) -> None:
    """Until ``pg_isready`` says the server accepts connections; StartError otherwise."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        code = process.exit_code()
        if code is not None:
            tail = log_tail(log)
            raise StartError(with_cause(f"PostgreSQL exited with code {code} at start", tail), tail)
        ready = subprocess.run(
            [str(bin_dir / "pg_isready"), "-q", "-h", HOST, "-p", str(port)], check=False
        )
        if ready.returncode == 0:
            return
        time.sleep(0.1)
    tail = log_tail(log)
    raise StartError(
        with_cause(f"PostgreSQL did not accept connections within {READY_TIMEOUT_S:g} s", tail),
        tail,
    )
