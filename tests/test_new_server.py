"""A contributor adds a server with one definition file and no code change: capture, validate
and the site all pick it up. The definition (waitress) exists only in this test."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from evidence.layout import REPO_ROOT
from harness.definitions import DEFINITIONS_DIR
from tests.conftest import processes_mentioning

pytestmark = pytest.mark.servers

WAITRESS = """
id = "waitress"
name = "Waitress"
interface = "wsgi"
mode = "production"
summary = "A pure-Python WSGI server (contributed in a test)."
homepage = "https://docs.pylonsproject.org/projects/waitress/"
docs = "https://docs.pylonsproject.org/projects/waitress/en/stable/runner.html"
requirements = ["waitress==3.0.2"]
stop_signal = "SIGTERM"
[production]
workers_per_cpu = 0
workers_plus = 1
serves = "threads"
threads = 4
rule = "One process with 4 threads (a test definition)"
docs = "https://docs.pylonsproject.org/projects/waitress/en/stable/runner.html"
[commands]
http = ["waitress-serve", "--listen={host}:{port}", "--threads=4", "sampleproject.wsgi:application"]
"""


def _run(args: list[str], env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_new_definition_file_is_captured_and_published(
    tmp_path: Path, environments_dir: Path
) -> None:
    servers = tmp_path / "servers"
    shutil.copytree(DEFINITIONS_DIR, servers)
    (servers / "waitress.toml").write_text(WAITRESS)
    env = {
        "SERVING_DJANGO_SERVERS": str(servers),
        "SERVING_DJANGO_MACHINE": "test-machine",
        "SERVING_DJANGO_DATA": str(tmp_path / "data"),
    }

    capture = _run(
        [
            "-m",
            "harness",
            "capture",
            "--quick",
            "--server",
            "waitress",
            "--check",
            "concurrency-sync-sleep",
            "--data-dir",
            str(tmp_path / "data"),
            "--environments-dir",
            str(environments_dir),
        ],
        env,
    )
    assert capture.returncode == 0, capture.stderr
    (run_file,) = (tmp_path / "data" / "runs").glob("test-machine/*/waitress.json")
    run = json.loads(run_file.read_text())
    assert run["startup"]["ok"], run["startup"]
    assert run["server"]["version"] == "3.0.2"
    assert run["checks"][0]["outcome"] in ("yes", "partial", "no")

    assert (
        _run(["-m", "harness.validate", "--data-dir", str(tmp_path / "data")], env).returncode == 0
    )
    site = tmp_path / "site"
    build = _run(["-m", "mkdocs", "build", "--strict", "--site-dir", str(site)], env)
    assert build.returncode == 0, build.stderr
    assert "Waitress" in (site / "matrix" / "index.html").read_text()
    assert (site / "servers" / "waitress" / "index.html").is_file()
    assert not processes_mentioning(str(environments_dir / "waitress"))
    # Installed with its bytecode: django.contrib.gis is never imported, so only the install
    # can have compiled it.
    packages = next((environments_dir / "waitress" / "lib").glob("python*/site-packages"))
    assert list((packages / "django" / "contrib" / "gis" / "__pycache__").glob("*.pyc"))


def test_a_port_already_taken_is_a_recorded_failure(tmp_path: Path, environments_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        servers = tmp_path / "servers"
        servers.mkdir()
        (servers / "busy.toml").write_text(
            WAITRESS.replace('id = "waitress"', 'id = "busy"').replace("{port}", str(port))
        )
        result = _run(
            [
                "-m",
                "harness",
                "capture",
                "--quick",
                "--servers-dir",
                str(servers),
                "--check",
                "concurrency-sync-sleep",
                "--data-dir",
                str(tmp_path / "data"),
                "--environments-dir",
                str(environments_dir),
            ],
            {"SERVING_DJANGO_MACHINE": "test-machine"},
        )
    # Recorded as failed, and the exit status says the capture is not complete.
    assert result.returncode == 1, result.stderr
    assert "not captured (1):\n  busy: not started: the server did not start" in result.stderr
    (run_file,) = (tmp_path / "data" / "runs").glob("test-machine/*/busy.json")
    run = json.loads(run_file.read_text())
    assert not run["startup"]["ok"]
    assert "did not start" in run["startup"]["error"]
    assert "in use" in run["startup"]["log_tail"].lower()
    assert run["checks"][0]["outcome"] == "error"
