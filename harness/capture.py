"""One capture: the checks phase (``checks_phase``, several servers at a time), then the
benchmark phase (``benchmarks.capture``, one server at a time), sharing the upstream service.
Both begin each server with the same prepared step (``prepared``). The checks that need
PostgreSQL share one cluster, started for the checks phase."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from pathlib import Path

from harness.benchmarks.capture import run_benchmarks
from harness.capture_plan import Capture
from harness.checks.operations.database_connections import USES_DATABASE
from harness.checks.upstream import USES_UPSTREAM
from harness.checks_phase import check_server
from harness.definitions import ServerDefinition
from harness.postgres import PostgresInstance, PostgresUnavailable, running_postgres
from harness.process import StartError, end_all
from harness.process_registry import scratch_folder
from harness.progress import Progress
from harness.upstream import UpstreamService, upstream_service


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


@contextmanager
def _database(capture: Capture, progress: Progress) -> Iterator[PostgresInstance | None]:
    """One PostgreSQL cluster for the checks phase, started only when a selected check uses
    it (each such check makes a database of its own in it and drops it). When it cannot
    start, None: each check then tries to start its own and records why it could not."""
    if not any(check.id in USES_DATABASE for check in capture.selected_checks()):
        yield None
        return
    progress.note("starting PostgreSQL for the database checks")
    with ExitStack() as stack:
        # Only the start is guarded: an exception from the caller's block must pass through.
        try:
            instance = stack.enter_context(running_postgres())
        except (PostgresUnavailable, StartError) as error:
            progress.note(f"PostgreSQL unavailable, its checks will record why: {error}")
            instance = None
        yield instance


def run_capture(
    capture: Capture, definitions: Sequence[ServerDefinition], progress: Progress
) -> list[Path]:
    """Check every definition, ``capture.jobs`` servers at a time, then benchmark them one at a
    time; returns the files written.

    On Ctrl-C every server is killed and only the files already complete are kept.
    """
    written: list[Path] = []
    with (
        scratch_folder("serving-django-upstream-") as scratch,
        _upstream(capture, scratch, progress) as upstream,
        ThreadPoolExecutor(max_workers=capture.jobs, thread_name_prefix="server") as pool,
    ):
        if upstream is not None:
            progress.note(
                f"upstream service ready at {upstream.base_url}"
                if upstream.base_url
                else f"upstream service unavailable, its checks will record why: {upstream.problem}"
            )
        checks_started = time.monotonic()
        # A resumed capture measures only the servers whose files it does not hold yet.
        # A version capture measures each of its combinations instead (capture_plan).
        to_check = capture.to_check(definitions) if capture.selected_checks() else []
        with _database(capture, progress) if to_check else nullcontext() as database:
            futures = [
                pool.submit(
                    check_server, capture, definition, progress, upstream, database, combination
                )
                for definition, combination in to_check
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
                f"{capture.machine.install_s / 60:.1f} min were installs and heavy checks "
                "holding timed checks back"
            )
        if capture.selected_scenarios():
            try:
                written += run_benchmarks(capture, definitions, upstream)
            except BaseException:
                capture.interrupted.set()
                end_all()
                raise
    return written
