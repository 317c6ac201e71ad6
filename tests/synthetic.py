"""SYNTHETIC data for tests of validation and rendering. None of it was measured; it never goes
under data/. Builders return documents in the shape the harness writes."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.definitions import ServerDefinition
from harness.store import REPO_ROOT, DataDir, write_document

MACHINE_ID = "synthetic-test-machine"
CAPTURE_ID = "20260101T000000Z"


def machine(identifier: str = MACHINE_ID) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "id": identifier,
        "cpu_model": "Synthetic CPU (test fixture)",
        "cores": 2,
        "memory_bytes": 2**34,
        "os": "Test OS",
        "arch": "x86_64",
        "python_implementation": "CPython",
    }


def run(
    server_id: str = "alpha",
    *,
    name: str = "Alpha",
    interface: str = "wsgi",
    outcome: str = "yes",
    summary: str = "Synthetic summary.",
    capture: str = CAPTURE_ID,
    notes: list[str] | None = None,
    docs: str = "https://example.org/docs",
) -> dict[str, Any]:
    return copy.deepcopy(
        {
            "schema_version": 1,
            "capture": capture,
            "machine": MACHINE_ID,
            "profile": "quick",
            "started_at": "2026-01-01T00:00:00.000Z",
            "finished_at": "2026-01-01T00:01:00.000Z",
            "server": {
                "id": server_id,
                "name": name,
                "interface": interface,
                "mode": "production",
                "summary": "A synthetic server for tests.",
                "homepage": "https://example.org/",
                "docs": docs,
                "requirements": ["alpha==1.0"],
                "notes": notes or [],
                "package": "alpha",
                "version": "1.0",
                "stop_signal": "SIGTERM",
                "commands": {"http": ["alpha", "--port", "{port}"]},
            },
            "provenance": {
                "git_commit": "0" * 40,
                "git_dirty": False,
                "harness_python": "3.12.1",
                "server_python": "3.12.1",
                "packages": {"alpha": "1.0"},
                "command": ["alpha", "--port", "{port}"],
                "workers": 1,
                "env": {},
                "kernel": "6.1",
                "os": "Test OS",
                "cpu_model": "Synthetic CPU",
                "cores": 2,
            },
            "startup": {"ok": True, "ready_after_s": 0.5, "error": None, "log_tail": "started"},
            "shutdown": {
                "signal": "SIGTERM",
                "exited_after_s": 0.1,
                "forced": False,
                "exit_code": 0,
            },
            "checks": [
                {
                    "id": "concurrency-sync-sleep",
                    "title": "Sync view concurrency",
                    "group": "Concurrency",
                    "outcome": outcome,
                    "summary": summary,
                    "measured_at": "2026-01-01T00:00:30.000Z",
                    "evidence": {
                        "question": "Synthetic question?",
                        "thresholds": "Synthetic.",
                        "wall_s": 1.0,
                    },
                }
            ],
        }
    )


def write_data(root: Path, runs: list[dict[str, Any]]) -> DataDir:
    data = DataDir(root)
    write_document(data.machine_path(MACHINE_ID), machine(), "machine")
    for document in runs:
        path = data.run_path(document["machine"], document["capture"], document["server"]["id"])
        write_document(path, document, "run")
    return data


def definition(server_id: str = "tiny", **overrides: Any) -> ServerDefinition:
    """A SYNTHETIC server definition for tests that start their own tiny apps."""
    fields: dict[str, Any] = {
        "id": server_id,
        "name": server_id,
        "interface": "wsgi",
        "mode": "production",
        "summary": "synthetic",
        "homepage": "http://127.0.0.1/",
        "docs": "http://127.0.0.1/",
        "requirements": (),
        "stop_signal": "SIGTERM",
        "commands": {"http": ("python",)},
    }
    fields.update(overrides)
    return ServerDefinition(**fields)


def build_site(data: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of the real site from the data in ``data``, into ``site``."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO_ROOT,
        env={**os.environ, "SERVING_DJANGO_DATA": str(data)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
