"""The step both phases of a capture begin a server with: its environment installed, a scratch
directory with TLS material, a launcher, and a fresh database; plus the provenance both phases
record of it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.capture_plan import Capture
from harness.definitions import ServerDefinition, fill_command
from harness.endpoints import SAMPLEPROJECT_DIR
from harness.environments import Environment
from harness.launcher import Launcher
from harness.network import HOST, make_tls_material
from harness.process_registry import scratch_folder
from harness.profiles import Profile
from harness.provenance import cores, cpu_model, kernel, os_name
from harness.sizing import SERVER_CPUS, sizing_record

PREPARE_TIMEOUT_S = 300


class PrepareError(Exception):
    def __init__(self, reason: str, log: str) -> None:
        super().__init__(reason)
        self.reason, self.log = reason, log


def prepare_database(launcher: Launcher, extra: dict[str, str] | None = None) -> None:
    """Migrate a fresh database (SQLite, or the DATABASE_URL in ``extra``) and load the sample
    polls, in the server's own environment."""
    for argv in (["manage.py", "migrate", "--noinput"], ["manage.py", "load_polls"]):
        _manage(launcher, extra or {}, argv)


def _manage(launcher: Launcher, extra: dict[str, str], argv: list[str]) -> None:
    """Run one management command in the server's environment; PrepareError if it fails."""
    variables = launcher.variables(dev_mode=False, extra=extra)
    try:
        completed = subprocess.run(
            [str(launcher.environment.python), *argv],
            cwd=SAMPLEPROJECT_DIR,
            env=variables,
            capture_output=True,
            text=True,
            timeout=PREPARE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise PrepareError(f"`{' '.join(argv)}` timed out", "") from error
    if completed.returncode != 0:
        output = "\n".join((completed.stdout + completed.stderr).splitlines()[-40:])
        raise PrepareError(f"`{' '.join(argv)}` failed ({completed.returncode})", output)


def collect_static(launcher: Launcher) -> None:
    """Collect the static files into the launcher's STATIC_ROOT and add the 1 MiB stylesheet
    the static-files check fetches (the project's own commands, in the server's environment)."""
    _manage(launcher, {}, ["manage.py", "collectstatic", "--noinput", "-v", "0"])
    _manage(launcher, {}, ["manage.py", "make_large_static"])


@contextmanager
def prepared_launcher(
    definition: ServerDefinition,
    environment: Environment,
    profile: Profile,
    base_env: dict[str, str],
    scratch_prefix: str,
    launch_prefix: tuple[str, ...] = (),
) -> Iterator[tuple[Launcher, Path]]:
    """A launcher for the server in a scratch directory whose database is ready and whose
    static files are collected, and that directory; PrepareError says why either failed."""
    with scratch_folder(f"{scratch_prefix}{definition.id}-") as scratch:
        launcher = Launcher(
            definition,
            environment,
            scratch,
            profile,
            make_tls_material(scratch / "tls"),
            base_env=dict(base_env),
            prefix=launch_prefix,
            static_root=scratch / "staticfiles",
        )
        prepare_database(launcher)
        collect_static(launcher)
        yield launcher, scratch


def recorded_environment(
    definition: ServerDefinition, base_env: dict[str, str] | None = None
) -> dict[str, str]:
    """What a reader needs to repeat the run; per-run paths and the secret are named, not given."""
    return {
        "DJANGO_SECRET_KEY": "<random per run>",
        "SQLITE_PATH": "<scratch dir>/db.sqlite3",
        "SAMPLEPROJECT_STATE_DIR": "<scratch dir>/state",
        "DJANGO_STATIC_ROOT": "<scratch dir>/staticfiles",
        **{name: "<set per capture>" for name in base_env or {}},
        **definition.env,
    }


def code_and_machine(capture: Capture, environment: Environment | None) -> dict[str, Any]:
    """The provenance every file of a capture shares: the code that ran, its Python and
    packages, and the machine."""
    return {
        "git_commit": capture.git_commit,
        "git_dirty": capture.git_dirty,
        "harness_python": sys.version.split()[0],
        "server_python": environment.python_version if environment else None,
        "packages": environment.packages if environment else {},
        "kernel": kernel(),
        "os": os_name(),
        "cpu_model": cpu_model(),
        "cores": cores(),
    }


def shown_command(definition: ServerDefinition) -> list[str]:
    """The plain command as a reader would type it (the port differs per run), with the
    production worker and thread counts for the CPUs the server is sized for."""
    values = {
        "python": "python",
        "host": HOST,
        "port": "{port}",
        "workers": str(definition.production_workers(SERVER_CPUS)),
        "threads": str(definition.production_threads),
        "certfile": "{certfile}",
        "keyfile": "{keyfile}",
        "scratch": "{scratch}",
        "user": "{user}",
        "group": "{group}",
    }
    return fill_command(definition.commands["http"], values)


def provenance(
    capture: Capture,
    definition: ServerDefinition,
    environment: Environment | None,
    base_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A server file's provenance: the capture's, and how this server was started and sized
    (``sizing``: the CPUs it was sized for, its workers, threads and capacity, and the rule)."""
    return {
        **code_and_machine(capture, environment),
        "command": shown_command(definition),
        "workers": definition.production_workers(SERVER_CPUS),
        "sizing": sizing_record(definition),
        "env": recorded_environment(definition, base_env),
    }


def server_version(definition: ServerDefinition, environment: Environment | None) -> str | None:
    return environment.packages.get(definition.package) if environment else None
