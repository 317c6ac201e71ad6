"""Start instances of one server configuration, in the variant a check needs.

Most checks share one production-style instance over plain HTTP/1.1. Others need their own:
TLS or cleartext HTTP/2 (another command of the definition), development mode (DEBUG on),
the server's reload option, or a scratch copy of the project whose files a check may change.
``Launcher.launch`` starts any of these and always stops it, recording how it was run.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness.definitions import ServerDefinition, fill_command
from harness.endpoints import SAMPLEPROJECT_DIR
from harness.environments import Environment
from harness.network import HOST, TLSMaterial, free_port
from harness.process import ServerProcess, Shutdown, StartError, log_tail
from harness.profiles import Profile
from harness.sizing import SERVER_CPUS
from harness.worker_account import (
    AccountError,
    hand_over,
    runs_as_account,
    switches_account,
    unreachable_parts,
    worker_account,
)

# Variables that would leak the harness's own environment into the server's. The sample
# project's wsgi.py and asgi.py set SAMPLEPROJECT_INTERFACE for their own process; a test
# process that imported one must not hand its value to a server of the other interface.
_NOT_INHERITED = (
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "PYTHONHOME",
    "DJANGO_SETTINGS_MODULE",
    "SAMPLEPROJECT_INTERFACE",
)
_TLS_KINDS = ("tls", "http2_tls", "http3")
READY_ENDPOINT = "/json/sync"
# The SQLite database of the instances a launcher starts, in its scratch directory.
SQLITE_FILE = "db.sqlite3"


class NotDeclared(Exception):
    """The definition has no command of the requested kind (the server cannot do it)."""


@dataclass
class Instance:
    """A running server: where it listens, how it was started, and its log."""

    kind: str
    base_url: str
    process: ServerProcess
    log_path: Path
    project_dir: Path
    tls: TLSMaterial
    dev_mode: bool
    shown_command: list[str]
    workers: int = 1
    ready_after_s: float | None = None
    shutdown: Shutdown | None = None
    log_offset: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)
    # Where the sample project writes its records (SAMPLEPROJECT_STATE_DIR): a check that reads
    # them must read this instance's, whichever launcher it holds.
    state_dir: Path | None = None

    def url(self, path: str, query: str = "") -> str:
        return self.base_url + path + (f"?{query}" if query else "")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def describe(self) -> dict[str, Any]:
        """How this instance was run, for a check's evidence."""
        return {
            "kind": self.kind,
            "command": self.shown_command,
            "workers": self.workers,
            "dev_mode": self.dev_mode,
            "env": dict(self.extra_env),
            "ready_after_s": self.ready_after_s,
            "project": "scratch copy"
            if self.project_dir != SAMPLEPROJECT_DIR
            else "sampleproject/",
        }


def base_url(kind: str, port: int) -> str:
    """Where an instance of this kind listens on ``port``."""
    scheme = "https" if kind in _TLS_KINDS else "http"
    return f"{scheme}://{HOST}:{port}"


@dataclass
class Launcher:
    definition: ServerDefinition
    environment: Environment
    scratch: Path
    profile: Profile
    tls: TLSMaterial
    base_env: dict[str, str] = field(default_factory=dict)  # e.g. UPSTREAM_BASE_URL
    # Put before every server command, e.g. ``taskset -c 0`` so benchmarks pin the server.
    prefix: tuple[str, ...] = ()
    # The CPUs the server is sized for: {workers} and {threads} are its production counts.
    cpus: int = SERVER_CPUS
    # The STATIC_ROOT collected for this server (harness/prepared.py), passed to Django as
    # DJANGO_STATIC_ROOT and to commands as {static_root}; None: nothing collected, so Django
    # is not told of one (WhiteNoise warns about a STATIC_ROOT that does not exist).
    static_root: Path | None = None
    _count: int = 0

    def workers(self, override: int | None = None) -> int:
        """Worker processes: the production count, or ``override`` (an article's protocol)."""
        return self.definition.production_workers(self.cpus) if override is None else override

    def supports(self, kind: str) -> bool:
        return self.definition.argv(kind) is not None

    def variables(self, dev_mode: bool, extra: dict[str, str]) -> dict[str, str]:
        variables = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
        variables.update(
            {
                "PATH": f"{self.environment.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
                "PYTHONUNBUFFERED": "1",
                "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),  # made per run, never stored
                "SQLITE_PATH": str(self.scratch / SQLITE_FILE),
                "SAMPLEPROJECT_STATE_DIR": str(self.scratch / "state"),
                **({"DJANGO_STATIC_ROOT": str(self.static_root)} if self.static_root else {}),
                **self.base_env,
            }
        )
        variables.update(self.definition.env)
        if dev_mode:
            variables["DJANGO_DEV_MODE"] = "1"
        variables.update(extra)
        return variables

    def command(
        self, kind: str, port: int | str, shown: bool = False, workers: int | None = None
    ) -> list[str]:
        threads = self.definition.threads_of(kind)
        user, group = ("{user}", "{group}") if shown else self._account()
        values = {
            "python": "python" if shown else str(self.environment.python),
            "host": HOST,
            "port": "{port}" if shown else str(port),
            "workers": str(self.workers(workers)),
            # Only commands of servers with a thread pool use it; the others never see "None".
            "threads": str(threads),
            "certfile": "{certfile}" if shown else str(self.tls.certfile),
            "keyfile": "{keyfile}" if shown else str(self.tls.keyfile),
            "scratch": "{scratch}" if shown else str(self.scratch),
            "user": user,
            "group": group,
            "static_root": "{static_root}" if shown else str(self.static_root or ""),
        }
        command = self.definition.argv(kind)
        if command is None:
            raise NotDeclared(f"{self.definition.id} declares no {kind!r} command")
        argv = fill_command(command, values)
        candidate = self.environment.bin_dir / argv[0]
        if not shown and "/" not in argv[0] and candidate.exists():
            argv[0] = str(candidate)
        return argv

    def _account(self) -> tuple[str, str]:
        """The account its workers run as, for commands that name it (else never used)."""
        if not runs_as_account(self.definition):
            return "{user}", "{group}"
        try:
            return worker_account()
        except AccountError as error:
            raise StartError(str(error), "") from error

    def _hand_over_scratch(self, project_dir: Path) -> None:
        """Under root, give the scratch files to the account the workers run as, and check
        that it can reach them, the project and the server's environment."""
        if not (runs_as_account(self.definition) and switches_account()):
            return
        try:
            hand_over(self.scratch)
            blocked = unreachable_parts(project_dir, self.environment.path, self.scratch)
        except (AccountError, OSError) as error:
            raise StartError(f"cannot prepare its workers' account: {error}", "") from error
        if blocked:
            user = self._account()[0]
            raise StartError(
                f"{self.definition.id}'s workers run as {user} (it refuses root), who cannot "
                f"enter {', '.join(map(str, blocked))}: put the clone, the environments "
                "directory and the scratch directory where other accounts can read them",
                "",
            )

    def copy_project(self) -> Path:
        """A scratch copy of the sample project that a check may edit."""
        self._count += 1
        target = self.scratch / f"project-{self._count}"
        shutil.copytree(
            SAMPLEPROJECT_DIR, target, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3")
        )
        return target

    def ready_client(self, kind: str) -> httpx.Client:
        if kind == "h2c":
            return httpx.Client(http1=False, http2=True, timeout=2.0)
        return httpx.Client(timeout=2.0, verify=self.tls.client_context())

    @contextmanager
    def launch(
        self,
        kind: str = "http",
        *,
        dev_mode: bool = False,
        project_copy: bool = False,
        env: dict[str, str] | None = None,
        project_dir: Path | None = None,
        port: int | None = None,
        workers: int | None = None,
    ) -> Iterator[Instance]:
        """Start the server in this variant; StartError if it does not become ready.

        ``port`` (default: a free one) lets a client be started first, aimed at ``base_url``;
        ``workers`` (default: the production count) lets a reproduction run an article's one.
        """
        if not self.supports(kind):
            raise NotDeclared(f"{self.definition.id} declares no {kind!r} command")
        self._count += 1
        port = port or free_port()
        directory = project_dir or (self.copy_project() if project_copy else SAMPLEPROJECT_DIR)
        log_path = self.scratch / f"server-{self._count}-{kind}.log"
        extra = dict(env or {})
        self._hand_over_scratch(directory)
        variables = self.variables(dev_mode, extra)
        process = ServerProcess(
            [*self.prefix, *self.command(kind, port, workers=workers)],
            directory,
            variables,
            log_path,
            self.definition.stop_signal,
            kind=f"server {self.definition.id}",
            port=port,
        )
        instance = Instance(
            kind=kind,
            base_url=base_url(kind, port),
            process=process,
            log_path=log_path,
            project_dir=directory,
            tls=self.tls,
            dev_mode=dev_mode or self.definition.env.get("DJANGO_DEV_MODE") == "1",
            shown_command=self.command(kind, port, shown=True, workers=workers),
            workers=self.workers(workers),
            extra_env=extra,
            state_dir=Path(variables["SAMPLEPROJECT_STATE_DIR"]),
        )
        try:
            process.start()
            with self.ready_client(kind) as client:
                instance.ready_after_s = process.wait_ready(
                    instance.url(self.definition.mount + READY_ENDPOINT),
                    self.profile.start_timeout_s,
                    client=client,
                )
            instance.log_offset = len(instance.log_text())
            yield instance
        finally:
            instance.shutdown = process.stop(self.profile.stop_grace_s)

    def log_tail(self, instance: Instance) -> str:
        return log_tail(instance.log_path)
