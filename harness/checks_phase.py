"""The checks phase of a capture: for each server, make its environment, start it, run every
selected check, stop it, and write one run file. A server that fails anywhere is recorded as
failed with its reason; the capture goes on with the next one."""

from __future__ import annotations

import hashlib
import shutil
import time
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.capture_plan import Capture
from harness.checks import Check, CheckContext, failed_record, run_check, turn_for
from harness.definitions import OptionVariant, ServerDefinition
from harness.endpoints import load_endpoints
from harness.environments import (
    Environment,
    InstallError,
    ensure_environment,
    project_requirements,
)
from harness.help_text import help_record
from harness.launcher import SQLITE_FILE, Launcher
from harness.postgres import PostgresInstance
from harness.prepared import PrepareError, prepared_launcher, provenance, server_version
from harness.process import Shutdown, StartError, log_tail
from harness.progress import Progress, ServerProgress
from harness.provenance import now_iso
from harness.upstream import UpstreamService
from harness.versions import Combination, combination_requirements, interpreter


def _all_failed(capture: Capture, reason: str, evidence: dict[str, Any]) -> list[dict[str, Any]]:
    return [failed_record(check, reason, evidence) for check in capture.selected_checks()]


def _environment(
    capture: Capture, definition: ServerDefinition, combination: Combination | None
) -> Environment:
    """The server's environment: the matrix's, or the combination's own (its release, Django
    and Python: harness.versions), made the same way."""
    if combination is None:
        return ensure_environment(
            definition, capture.environments_dir, install_turn=capture.machine.install
        )
    assert capture.versions is not None
    try:
        python = interpreter(combination.python)
    except LookupError as error:
        raise InstallError(str(error)) from error
    return ensure_environment(
        definition,
        capture.environments_dir,
        python=python,
        install_turn=capture.machine.install,
        name=combination.name,
        requirements=combination_requirements(
            combination, definition, capture.versions, project_requirements()
        ),
    )


def run_server(
    capture: Capture,
    definition: ServerDefinition,
    progress: ServerProgress,
    upstream: UpstreamService | None = None,
    database: PostgresInstance | None = None,
    combination: Combination | None = None,
) -> dict:
    """Everything about one server in this capture, as one run record (``combination``: on
    one release, Django and Python of the version axis, recorded in its ``axis``)."""
    base_env = upstream.base_env() if upstream else {}
    started_at = now_iso()
    startup: dict[str, Any] = {"ok": False, "ready_after_s": None, "error": None, "log_tail": ""}
    shutdown: Shutdown | None = None
    environment: Environment | None = None
    results: list[dict[str, Any]] = []
    help_text: dict[str, Any] | None = None
    try:
        progress.step("installing environment")
        environment = _environment(capture, definition, combination)
    except InstallError as error:
        startup["error"] = f"environment could not be installed: {error}"[:2000]
        results = _all_failed(
            capture,
            "Not measured: the server's environment could not be installed (see startup.error).",
            {},
        )

    if environment is not None:
        try:
            progress.step("preparing database, starting")
            with (
                prepared_launcher(
                    definition, environment, capture.profile, base_env, "serving-django-"
                ) as (launcher, _),
                launcher.launch("http") as shared,
            ):
                startup.update(
                    ok=True, ready_after_s=shared.ready_after_s, log_tail=log_tail(shared.log_path)
                )
                progress.note(f"ready after {shared.ready_after_s:.2f} s at {shared.base_url}")
                context = CheckContext(
                    definition,
                    load_endpoints(),
                    capture.profile,
                    shared,
                    launcher,
                    upstream,
                    database,
                )
                for check in capture.selected_checks():
                    progress.step(check.id)
                    turn = turn_for(check, capture.machine)
                    with turn():
                        began = time.monotonic()
                        results.append(run_check(check, context))
                        took_s = time.monotonic() - began  # without the wait for its turn
                    progress.result(results[-1]["outcome"], results[-1]["summary"], took_s)
                    tried = [
                        _with_option(check, context, option, capture, progress)
                        for option in definition.options_for(check.id)
                        if check.tries_options(results[-1])
                    ]
                    if tried:
                        results[-1]["options"] = tried
                help_text = help_record(launcher)
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
        **({"help": help_text} if help_text else {}),
        "server": {**definition.as_record(), "version": server_version(definition, environment)},
        "provenance": provenance(capture, definition, environment, base_env),
        "startup": startup,
        "shutdown": shutdown.as_record() if shutdown else None,
        "checks": results,
        **(
            {"axis": combination.axis_record(environment.python_version if environment else None)}
            if combination
            else {}
        ),
    }


def _with_option(
    check: Check,
    context: CheckContext,
    option: OptionVariant,
    capture: Capture,
    progress: ServerProgress,
) -> dict[str, Any]:
    """The check again with one of the server's documented options: the option's commands
    replace the default ones (the plain HTTP/1.1 instance too, when the option changes it)."""
    assert context.launcher is not None
    definition = context.server.with_option(option.id)
    launcher = option_launcher(context.launcher, definition, option.id)
    progress.step(f"{check.id} with option {option.id}")
    began = time.monotonic()
    turn = turn_for(check, capture.machine)
    try:
        own_shared = "http" in option.commands  # the option changes the plain instance too
        with (
            turn(),
            launcher.launch("http") if own_shared else nullcontext(context.shared) as shared,
        ):
            record = run_check(
                check, replace(context, server=definition, launcher=launcher, shared=shared)
            )
    except StartError as error:
        record = failed_record(
            check,
            f"Not measured: the server did not start with this option: {error.reason}"[:2000],
            {"log_tail": error.log_tail},
        )
    progress.result(record["outcome"], record["summary"], time.monotonic() - began)
    kept = ("outcome", "summary", "cause", "cause_detail", "measured_at", "evidence")
    return {"option": option.id, "label": option.label, "docs": option.docs} | {
        key: record[key] for key in kept if key in record
    }


def option_scratch_name(option_id: str) -> str:
    """``option-`` and 6 hex digits, the same for an option in every run."""
    return "option-" + hashlib.sha256(option_id.encode()).hexdigest()[:6]


def option_launcher(launcher: Launcher, definition: ServerDefinition, option_id: str) -> Launcher:
    """A launcher for the server started with one of its options, in a scratch directory of its
    own that holds a copy of the prepared database (migrated, with the sample polls): an
    instance the option starts would otherwise answer every view that reads it with a 500.

    The directory is named by a short digest of the option, not the option itself: a server
    may put a Unix socket under its scratch (mod_wsgi-express's daemon socket, in
    ``apache-<port>/wsgi.<pid>.u<uid>.1.sock``), and a socket's path holds at most 107 bytes;
    ``option-limit-request-body-2g`` made it 108, and Apache's workers could not reach the
    daemon ("Permission denied", every request a 503)."""
    scratch = launcher.scratch / option_scratch_name(option_id)
    scratch.mkdir(parents=True, exist_ok=True)
    prepared = launcher.scratch / SQLITE_FILE
    if prepared.exists():
        shutil.copy2(prepared, scratch / SQLITE_FILE)
    return replace(launcher, definition=definition, scratch=scratch)


def check_server(
    capture: Capture,
    definition: ServerDefinition,
    progress: Progress,
    upstream: UpstreamService | None,
    database: PostgresInstance | None = None,
    combination: Combination | None = None,
) -> Path | None:
    """Check one server (on one ``combination`` of the version axis) and write its run file,
    unless the capture was interrupted meanwhile (then its results are not trustworthy:
    servers were killed under it)."""
    name = combination.name if combination else definition.id
    server_progress = progress.server(name)
    server_progress.begin()
    record = run_server(capture, definition, server_progress, upstream, database, combination)
    if capture.interrupted.is_set():
        return None
    if not record["startup"]["ok"]:
        capture.not_captured[name] = f"not started: {record['startup']['error']}"
    path = (
        capture.data.version_path(capture.machine_id, capture.capture_id, name)
        if combination
        else capture.data.run_path(capture.machine_id, capture.capture_id, name)
    )
    written = capture.write(path, record, "run", name)
    server_progress.end(record)
    return written
