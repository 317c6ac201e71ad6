"""Shared fixtures: tiny synthetic servers started through the harness's own runner."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from harness.launcher import Instance
from harness.network import free_port
from harness.postgres import PostgresInstance, running_postgres
from harness.process import ServerProcess

TINY_HTTP = Path(__file__).parent / "apps" / "tiny_http.py"


def pytest_configure(config: pytest.Config) -> None:
    """Handle SIGINT as Python does by default, even when started in the background: a shell
    starts a background job with SIGINT ignored, an ignored signal stays ignored across exec,
    and every Ctrl-C test's harness process would then never see its Ctrl-C. A handled signal
    is reset to the default in each child, which Python then handles again."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def processes_mentioning(marker: str) -> list[psutil.Process]:
    """Live processes whose command line contains ``marker`` (for leftover-process checks)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            if process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if any(marker in part for part in process.info["cmdline"] or ()):
                found.append(process)
        except psutil.Error:
            continue
    return found


@pytest.fixture(scope="session")
def environments_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Server environments made by tests; shared by the whole session to save installs."""
    return tmp_path_factory.mktemp("venvs")


@pytest.fixture(scope="module")
def database() -> Iterator[PostgresInstance]:
    """A scratch PostgreSQL cluster shared by a module's tests (which skip themselves where
    PostgreSQL is not installed)."""
    with running_postgres() as instance:
        yield instance


@pytest.fixture
def script_server(tmp_path: Path) -> Iterator:
    """Start a synthetic server script (``script PORT *args``) through the harness's runner;
    returns (base_url, process) once /json/sync answers. Always stopped after the test."""
    started: list[ServerProcess] = []

    def start(script: Path, *args: str) -> tuple[str, ServerProcess]:
        port = free_port()
        process = ServerProcess(
            [sys.executable, str(script), str(port), *args],
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin"},
            log_path=tmp_path / f"{script.stem}-{'-'.join(args)}.log",
            stop_signal="SIGTERM",
        )
        process.start()
        started.append(process)
        base_url = f"http://127.0.0.1:{port}"
        process.wait_ready(base_url + "/json/sync", timeout_s=20)
        return base_url, process

    yield start
    for process in started:
        process.stop(grace_s=5)


@pytest.fixture
def tiny_server(script_server) -> Callable[[str], tuple[str, ServerProcess]]:
    """Start tiny_http in a given mode; returns (base_url, process)."""
    return lambda mode: script_server(TINY_HTTP, mode)


def instance_for(base_url: str, process: ServerProcess) -> Instance:
    """An Instance around a server started by a test (not by a Launcher)."""
    return Instance(
        kind="http",
        base_url=base_url,
        process=process,
        log_path=process.log_path,
        project_dir=process.cwd,
        tls=None,
        dev_mode=False,  # type: ignore[arg-type]
        shown_command=process.argv,
    )
