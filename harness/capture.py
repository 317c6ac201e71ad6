"""One capture: for each server, make its environment, start it, run every check, stop it, and
write one run file. A server that fails anywhere is recorded as failed with its reason; the
capture goes on with the next one."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import checks as checks_module
from harness.benchmarks.settings import SCENARIOS
from harness.checks import Check, CheckContext, failed_record, run_check
from harness.checks.upstream import USES_UPSTREAM
from harness.definitions import ServerDefinition, fill_command
from harness.endpoints import SAMPLEPROJECT_DIR, load_endpoints
from harness.environments import Environment, InstallError, ensure_environment
from harness.launcher import WORKERS, Launcher
from harness.network import HOST, make_tls_material
from harness.process import Shutdown, StartError, end_all, log_tail
from harness.profiles import Profile
from harness.progress import Progress, ServerProgress
from harness.provenance import (
    cores,
    cpu_model,
    git_commit,
    git_dirty,
    kernel,
    now_iso,
    os_name,
)
from harness.scheduling import MachineLock
from harness.store import SCHEMA_VERSION, DataDir, write_document
from harness.upstream import UpstreamService, upstream_service

PREPARE_TIMEOUT_S = 300


@dataclass(frozen=True)
class Capture:
    capture_id: str
    machine_id: str
    profile: Profile
    data: DataDir
    environments_dir: Path
    checks: Sequence[Check] = ()  # empty: every check
    run_checks: bool = True
    scenarios: Sequence[str] = ()  # benchmark scenarios to run after the checks; empty: none
    jobs: int = 1  # servers captured at the same time (checks only; benchmarks run alone)
    machine: MachineLock = field(default_factory=MachineLock)
    # The code that runs is the code at the start: read git once, before any server runs.
    git_commit: str | None = field(default_factory=git_commit)
    git_dirty: bool | None = field(default_factory=git_dirty)
    interrupted: threading.Event = field(default_factory=threading.Event)

    def selected_checks(self) -> Sequence[Check]:
        if not self.run_checks:
            return ()
        return self.checks or checks_module.all_checks()

    def document_header(self, started_at: str) -> dict[str, Any]:
        """The fields every data file of this capture begins with (finished: now)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "capture": self.capture_id,
            "machine": self.machine_id,
            "profile": self.profile.name,
            "started_at": started_at,
            "finished_at": now_iso(),
        }

    def selected_scenarios(self) -> list[str]:
        """The chosen scenarios, in the order they run."""
        return [scenario for scenario in SCENARIOS if scenario in self.scenarios]


class PrepareError(Exception):
    def __init__(self, reason: str, log: str) -> None:
        super().__init__(reason)
        self.reason, self.log = reason, log


def recorded_environment(
    definition: ServerDefinition, base_env: dict[str, str] | None = None
) -> dict[str, str]:
    """What a reader needs to repeat the run; per-run paths and the secret are named, not given."""
    return {
        "DJANGO_SECRET_KEY": "<random per run>",
        "SQLITE_PATH": "<scratch dir>/db.sqlite3",
        "SAMPLEPROJECT_STATE_DIR": "<scratch dir>/state",
        **{name: "<set per capture>" for name in base_env or {}},
        **definition.env,
    }


def prepare_database(launcher: Launcher) -> None:
    """Migrate a fresh SQLite database and load the sample polls, in the server's own env."""
    variables = launcher.variables(dev_mode=False, extra={})
    for argv in (["manage.py", "migrate", "--noinput"], ["manage.py", "load_polls"]):
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


def provenance(
    capture: Capture,
    definition: ServerDefinition,
    environment: Environment | None,
    command: list[str],
    base_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        **code_and_machine(capture, environment),
        "command": command,
        "workers": WORKERS,
        "env": recorded_environment(definition, base_env),
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
    """The plain command as a reader would type it (the port differs per run)."""
    values = {
        "python": "python",
        "host": HOST,
        "port": "{port}",
        "workers": str(WORKERS),
        "certfile": "{certfile}",
        "keyfile": "{keyfile}",
    }
    return fill_command(definition.commands["http"], values)


def _all_failed(capture: Capture, reason: str, evidence: dict[str, Any]) -> list[dict[str, Any]]:
    return [failed_record(check, reason, evidence) for check in capture.selected_checks()]


def run_server(
    capture: Capture,
    definition: ServerDefinition,
    progress: ServerProgress,
    upstream: UpstreamService | None = None,
) -> dict:
    """Everything about one server in this capture, as one run record."""
    base_env = upstream.base_env() if upstream else {}
    started_at = now_iso()
    startup: dict[str, Any] = {"ok": False, "ready_after_s": None, "error": None, "log_tail": ""}
    shutdown: Shutdown | None = None
    environment: Environment | None = None
    results: list[dict[str, Any]] = []
    try:
        progress.step("installing environment")
        environment = ensure_environment(
            definition, capture.environments_dir, install_turn=capture.machine.install
        )
    except InstallError as error:
        startup["error"] = f"environment could not be installed: {error}"[:2000]
        results = _all_failed(
            capture,
            "Not measured: the server's environment could not be installed (see startup.error).",
            {},
        )

    if environment is not None:
        with tempfile.TemporaryDirectory(prefix=f"serving-django-{definition.id}-") as scratch:
            launcher = Launcher(
                definition,
                environment,
                Path(scratch),
                capture.profile,
                make_tls_material(Path(scratch) / "tls"),
                base_env=dict(base_env),
            )
            try:
                progress.step("preparing database, starting")
                with ExitStack() as stack:
                    prepare_database(launcher)
                    shared = stack.enter_context(launcher.launch("http"))
                    startup.update(
                        ok=True,
                        ready_after_s=shared.ready_after_s,
                        log_tail=log_tail(shared.log_path),
                    )
                    progress.note(f"ready after {shared.ready_after_s:.2f} s at {shared.base_url}")
                    context = CheckContext(
                        definition, load_endpoints(), capture.profile, shared, launcher, upstream
                    )
                    for check in capture.selected_checks():
                        progress.step(check.id)
                        turn = capture.machine.timed_check if check.timed else nullcontext
                        with turn():
                            began = time.monotonic()
                            results.append(run_check(check, context))
                            took_s = time.monotonic() - began  # without the wait for its turn
                        progress.result(results[-1]["outcome"], results[-1]["summary"], took_s)
                shutdown = shared.shutdown
            except PrepareError as error:
                startup["error"] = f"database preparation failed: {error.reason}"
                startup["log_tail"] = error.log
            except StartError as error:
                startup["error"] = f"the server did not start: {error.reason}"
                startup["log_tail"] = error.log_tail
        if not startup["ok"]:
            progress.result("error", startup["error"])
            evidence = {"log_tail": startup["log_tail"]}
            results = _all_failed(capture, f"Not measured: {startup['error']}", evidence)

    return {
        **capture.document_header(started_at),
        "server": {
            **definition.as_record(),
            "version": environment.packages.get(definition.package) if environment else None,
        },
        "provenance": provenance(
            capture, definition, environment, shown_command(definition), base_env
        ),
        "startup": startup,
        "shutdown": shutdown.as_record() if shutdown else None,
        "checks": results,
    }


def _upstream(
    capture: Capture, scratch: Path, progress: Progress
) -> AbstractContextManager[UpstreamService | None]:
    """The upstream service, started only when a selected check or scenario calls it."""
    if not any(check.id in USES_UPSTREAM for check in capture.selected_checks()) and (
        "locust-upstream" not in capture.scenarios
    ):
        return nullcontext(None)
    progress.note("starting the upstream service (the slow external API)")
    return upstream_service(capture.environments_dir, capture.profile, scratch)


def _capture_one(
    capture: Capture,
    definition: ServerDefinition,
    progress: Progress,
    upstream: UpstreamService | None,
) -> Path | None:
    """Capture one server and write its run file, unless the capture was interrupted meanwhile
    (then its results are not trustworthy: servers were killed under it)."""
    server_progress = progress.server(definition.id)
    server_progress.begin()
    record = run_server(capture, definition, server_progress, upstream)
    if capture.interrupted.is_set():
        return None
    path = capture.data.run_path(capture.machine_id, capture.capture_id, definition.id)
    write_document(path, record, "run")
    server_progress.end(record)
    return path


def run_capture(
    capture: Capture, definitions: Sequence[ServerDefinition], progress: Progress
) -> list[Path]:
    """Check every definition, ``capture.jobs`` servers at a time, then benchmark them one at a
    time; returns the files written.

    On Ctrl-C every server is killed and only the files already complete are kept.
    """
    # Imported here: the benchmark phase builds on this module (provenance, preparation).
    from harness.benchmarks.capture import run_benchmarks

    written: list[Path] = []
    with (
        tempfile.TemporaryDirectory(prefix="serving-django-upstream-") as scratch,
        _upstream(capture, Path(scratch), progress) as upstream,
        ThreadPoolExecutor(max_workers=capture.jobs, thread_name_prefix="server") as pool,
    ):
        if upstream is not None:
            progress.note(
                f"upstream service ready at {upstream.base_url}"
                if upstream.base_url
                else f"upstream service unavailable, its checks will record why: {upstream.problem}"
            )
        checks_started = time.monotonic()
        futures = [
            pool.submit(_capture_one, capture, definition, progress, upstream)
            for definition in (definitions if capture.selected_checks() else ())
        ]
        try:
            for future in futures:
                path = future.result()
                if path is not None:
                    written.append(path)
        except BaseException:
            capture.interrupted.set()
            for future in futures:
                future.cancel()
            end_all()  # running checks fail fast once their servers are gone
            raise
        if futures:
            progress.note(
                f"checks took {(time.monotonic() - checks_started) / 60:.1f} min, of which "
                f"{capture.machine.install_s / 60:.1f} min were installs holding timed checks back"
            )
        if capture.selected_scenarios():
            try:
                written += run_benchmarks(capture, definitions, upstream)
            except BaseException:
                capture.interrupted.set()
                end_all()
                raise
    return written
