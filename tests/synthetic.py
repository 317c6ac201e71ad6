"""SYNTHETIC data for tests of validation and rendering. None of it was measured; it never goes
under data/. Builders return documents in the shape the harness writes."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from evidence.documents import write_document
from evidence.layout import REPO_ROOT, DataDir
from evidence.schema import SCHEMA_VERSION
from evidence.vocabulary import CALIBRATION_ID, INTERLEAVED_ID, REFERENCE_TARGETS
from harness.benchmarks.measurement import Measurement, summarise
from harness.benchmarks.settings import BENCHMARK_SETTINGS
from harness.definitions import DEFINITIONS_DIR, ServerDefinition

MACHINE_ID = "synthetic-test-machine"
CAPTURE_ID = "20260101T000000Z"


def at(capture: str, seconds: float) -> str:
    """An ISO timestamp ``seconds`` after the start of ``capture`` (whose id is its UTC time)."""
    started = datetime.strptime(capture, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return (started + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def machine(identifier: str = MACHINE_ID) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
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
            "schema_version": SCHEMA_VERSION,
            "capture": capture,
            "machine": MACHINE_ID,
            "profile": "quick",
            "started_at": at(capture, 0),
            "finished_at": at(capture, 60),
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
                    "question": "Synthetic question?",
                    "thresholds": "Synthetic.",
                    "timed": True,
                    "outcome": outcome,
                    "summary": summary,
                    "measured_at": "2026-01-01T00:00:30.000Z",
                    "evidence": {"wall_s": 1.0},
                }
            ],
        }
    )


def version_capture(capture: str, releases: list[str], **changes: Any) -> dict[str, Any]:
    """A SYNTHETIC version capture's record (kind "versions") of alpha at ``releases``, with the
    current Django and Python; ``changes`` replace its fields."""
    return {
        "schema_version": SCHEMA_VERSION,
        "capture": capture,
        "machine": MACHINE_ID,
        "profile": "quick",
        "started_at": at(capture, 0),
        "finished_at": at(capture, 120),
        "state": "complete",
        "selection": {"servers": ["alpha"], "checks": ["concurrency-sync-sleep"], "scenarios": []},
        "options": {"jobs": 1, "locust_workers": 1},
        "git_commit": None,
        "git_dirty": None,
        "code_fingerprint": None,
        "resumed_at": [],
        "not_captured": {},
        "kind": "versions",
        "combinations": [
            {"server": "alpha", "release": release, "django": "6.1.3", "python": "3.12"}
            for release in releases
        ],
        **changes,
    }


def write_data(
    root: Path, runs: list[dict[str, Any]], benchmarks: list[dict[str, Any]] = ()
) -> DataDir:
    """Write runs and benchmark files through the harness's own writer (which validates them
    and never replaces a file), with a machine file for every machine they name that has
    none yet (a test may add files to the same folder more than once)."""
    data = DataDir(root)
    for machine_id in {MACHINE_ID} | {document["machine"] for document in [*runs, *benchmarks]}:
        if not data.machine_path(machine_id).exists():
            write_document(data.machine_path(machine_id), machine(machine_id), "machine")
    for document in runs:
        path = data.run_path(document["machine"], document["capture"], document["server"]["id"])
        write_document(path, document, "run")
    for document in benchmarks:
        path = data.benchmark_path(
            document["machine"], document["capture"], document["server"]["id"]
        )
        write_document(path, document, "benchmark")
    return data


# ---- SYNTHETIC benchmark files ------------------------------------------------------------


def figure(
    scenario: str,
    name: str,
    params: dict[str, Any],
    repeats: list[dict[str, float]] | None = None,
    failure: str | None = None,
) -> dict[str, Any]:
    """A SYNTHETIC figure record: made-up repeats, summarised by the harness's own code
    (median, min, max, CV, flags), or one failed repeat with ``failure``."""
    measured = (
        [Measurement(failure=failure)]
        if failure is not None
        else [Measurement(metrics=dict(metrics)) for metrics in repeats or [{}]]
    )
    return {
        "scenario": scenario,
        "figure": name,
        "params": params,
        "measured_at": "2026-01-01T00:02:00.000Z",
        **summarise(measured),
    }


def h2load_metrics(rate: float, p50_ms: float = 2.0) -> dict[str, float]:
    """One SYNTHETIC h2load repeat: the metric names h2load figures carry."""
    return {
        "requests_per_s": rate,
        "latency_p50_ms": p50_ms,
        "latency_p95_ms": p50_ms * 3,
        "latency_p99_ms": p50_ms * 5,
        "latency_max_ms": p50_ms * 20,
        "failed_percent": 0.0,
        "errored_percent": 0.0,
        "timeout_percent": 0.0,
        "non2xx_percent": 0.0,
    }


def h2load_figure(
    rates: list[float],
    *,
    protocol: str = "http/1.1",
    endpoint: str = "json_sync",
    clients: int = 200,
    failure: str | None = None,
) -> dict[str, Any]:
    params = {
        "tool": "h2load",
        "protocol": protocol,
        "endpoint": endpoint,
        "path": "/json/sync",
        "clients": clients,
        "threads": 1,
        "duration_s": 1.0,
        "warmup_s": 0.5,
        "server_cpus": "0",
        "load_cpus": "1",
        "workers": 1,
    }
    return figure(
        "h2load",
        f"{protocol} {endpoint} c={clients}",
        params,
        [h2load_metrics(rate) for rate in rates],
        failure,
    )


def locust_metrics(failures_by_users: dict[int, float], rate: float) -> dict[str, float]:
    """One SYNTHETIC Locust repeat: totals plus flat per-step keys."""
    metrics = {
        "answered_per_s": rate * 0.9,
        "max_step_answered_per_s": rate,
        "failures_percent": sum(failures_by_users.values()) / len(failures_by_users),
        "latency_p50_ms": 900.0,
        "latency_p95_ms": 1100.0,
        "latency_avg_ms": 950.0,
        "latency_min_ms": 620.0,
        "latency_max_ms": 2400.0,
        "highest_ok_users": max(
            [users for users, failed in failures_by_users.items() if failed == 0] or [0]
        ),
    }
    for users, failed in failures_by_users.items():
        metrics[f"step{users}_failures_percent"] = failed
        metrics[f"step{users}_answered_per_s"] = rate * users / max(failures_by_users)
        metrics[f"step{users}_latency_p95_ms"] = 1000.0 + users
    return metrics


def every_scenario(interface: str = "asgi", rate: float = 1000.0) -> list[dict[str, Any]]:
    """One SYNTHETIC figure of every server scenario, with three steady repeats each."""
    common = {"server_cpus": "0", "load_cpus": "1", "workers": 1}
    steps = {10: 0.0, 50: 0.0, 100: 12.5}
    return [
        h2load_figure([rate * 0.98, rate, rate * 1.02], clients=1),
        h2load_figure([rate * 1.9, rate * 2, rate * 2.1], clients=200),
        h2load_figure([rate * 1.5, rate * 1.6, rate * 1.7], protocol="h2+tls"),
        figure(
            "fixed-rate-latency",
            "json_sync",
            {
                "tool": "h2load",
                "protocol": "http/1.1",
                "endpoint": "json_sync",
                "clients": 50,
                "target_requests_per_s": rate,
                **common,
            },
            [h2load_metrics(rate, 1.5) | {"target_requests_per_s": rate}] * 3,
        ),
        *(
            figure(
                "convergence",
                f"http/1.1 json_sync c=200 window x{factor:g}",
                {
                    "tool": "h2load",
                    "protocol": "http/1.1",
                    "endpoint": "json_sync",
                    "clients": 200,
                    "duration_s": 5.0 * factor,
                    "window_factor": factor,
                    **common,
                },
                [h2load_metrics(rate * 2, 3.0) | {"answered_per_s": rate * 2}] * 3,
            )
            for factor in (1.0, 3.0)
        ),
        figure(
            "resources",
            "start and memory",
            {"load": "the h2load sweep", **common},
            [
                {
                    "ready_s": 0.8,
                    "idle_memory_pss_bytes": 40 * 2**20,
                    "peak_memory_pss_bytes": 52 * 2**20,
                    "processes": 1,
                }
            ]
            * 3,
        ),
        figure(
            "sync-middleware-cost",
            "json_async",
            {"tool": "h2load", "protocol": "http/1.1", "endpoint": "json_async", **common},
            [
                {
                    "without_latency_p50_ms": 2.0,
                    "with_latency_p50_ms": 3.0,
                    "latency_p50_ratio": 1.5,
                    "without_requests_per_s": 400.0,
                    "with_requests_per_s": 300.0,
                    "throughput_ratio": 0.75,
                }
            ]
            * 3,
        ),
        figure(
            "idle-connections",
            "sse",
            {"kind": "sse", "bound": 300, **common},
            [
                {
                    "connections_requested": 300,
                    "connections_opened": 300,
                    "connections_still_open": 290,
                    "connection_errors": 10,
                    "memory_per_connection_bytes": 20480.0,
                }
            ]
            * 3,
        ),
        figure(
            "locust-polls",
            "polls vote, SQLite",
            {"tool": "locust", "locustfile": "harness/benchmarks/locustfiles/polls.py", **common},
            [locust_metrics(steps, rate / 10)] * 3,
        ),
        figure(
            "locust-upstream",
            f"upstream_{'async' if interface == 'asgi' else 'sequential'}",
            {"tool": "locust", "endpoint": "upstream_async", **common},
            [locust_metrics(steps, rate / 20)] * 3,
        ),
    ]


def interleaved_figure(
    target: str,
    interface: str,
    rates: list[float],
    ratios: list[float] | None = None,
    stack: str | None = None,
) -> dict[str, Any]:
    """A SYNTHETIC figure of the interleaved rounds: a reference app (no ratios) or a
    configuration with its rounds' ratios to the reference, measured with a middleware
    ``stack`` (None: a figure from before stacks were varied, which records none)."""
    params = {
        "target": target,
        "target_name": "<b>ignored</b>",  # the site's words, never the file's, name a target
        "reference": ratios is None,
        "interface": interface,
        "compared_with": None if ratios is None else f"ref-{interface}",
        "tool": "h2load",
        "protocol": "http/1.1",
        "clients": 200,
        "duration_s": 5.0,
        "rounds": len(rates),
    }
    repeats = [
        {
            **h2load_metrics(rate),
            "answered_per_s": rate,
            **({} if ratios is None else {"reference_ratio": ratio}),
        }
        for rate, ratio in zip(rates, ratios or rates, strict=True)
    ]
    name = f"{target} http/1.1 c=200"
    if stack is not None:
        static = {"wsgi": "whitenoise", "asgi": "servestatic"}[interface]
        params["middleware_stack"] = stack
        params["static_files_middleware"] = static if stack == "production" else None
        if stack == "none":
            params["variant"] = "no middleware"
            name += ", no middleware"
    return figure("interleaved", name, params, repeats)


def interleaved(results: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    """A SYNTHETIC interleaved.json: the rounds' figures of every target in one file."""
    document = benchmark("interleaved", results, **kwargs)
    document["server"].update(name="Interleaved rounds", interface="none", mode="none")
    return document


def calibration_figure(tool: str, protocol: str, rate: float) -> dict[str, Any]:
    params = {
        "tool": tool,
        "target": "nginx return 200",
        "protocol": protocol,
        "clients": 200,
        "duration_s": 2.0,
        "server_cpus": "0",
        "load_cpus": "1",
    }
    metrics = {"requests_per_s": rate} | ({"latency_p50_ms": 1.0} if tool == "h2load" else {})
    return figure("calibration", f"{tool} {protocol} nginx", params, [metrics] * 3)


def benchmark(
    server_id: str = "uvicorn",
    results: list[dict[str, Any]] | None = None,
    *,
    name: str | None = None,
    interface: str = "asgi",
    machine_id: str = MACHINE_ID,
    capture: str = CAPTURE_ID,
) -> dict[str, Any]:
    """A SYNTHETIC benchmark file of one server (or, with server_id "calibration", the load
    tools' calibration) in one capture."""
    calibrating = server_id == "calibration"
    return copy.deepcopy(
        {
            "schema_version": SCHEMA_VERSION,
            "capture": capture,
            "machine": machine_id,
            "profile": "quick",
            "started_at": at(capture, 60),
            "finished_at": at(capture, 180),
            "server": {
                "id": server_id,
                "name": name or ("Synthetic calibration" if calibrating else server_id.title()),
                "interface": "none" if calibrating else interface,
                "mode": "none" if calibrating else "production",
                "version": "1.0",
            },
            "provenance": {
                "git_commit": "0" * 40,
                "git_dirty": False,
                "harness_python": "3.12.1",
                "kernel": "6.1",
                "os": "Test OS",
                "cpu_model": "Synthetic CPU",
                "cores": 2,
                "pinning": {"server_cpus": "0", "load_cpus": "1"},
                "tools": {"h2load": "1.0 (synthetic)", "locust": "2.0 (synthetic)"},
                "worker_rule": "one worker process (synthetic)",
            },
            "settings": BENCHMARK_SETTINGS["quick"].as_record(),
            "settings_source": "synthetic test fixture",
            "setup": {"ok": True, "error": None, "log_tail": ""},
            "results": results if results is not None else every_scenario(interface),
        }
    )


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


def _toml_value(value: Any) -> str:
    """A TOML string (or list of them): JSON's escapes are TOML's, but for DEL."""
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


def _server_blocks(data: Path) -> dict[str, dict[str, Any]]:
    """Server id -> the server block of a data file of it (run files first: theirs say more),
    for every server the files under ``data`` name; unreadable files are skipped."""
    blocks: dict[str, dict[str, Any]] = {}
    paths = [*sorted(data.glob("runs/*/*/*.json")), *sorted(data.glob("benchmarks/*/*/*.json"))]
    for path in paths:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(document, dict):
            continue
        block = document.get("server") if isinstance(document.get("server"), dict) else {}
        if path.stem not in (CALIBRATION_ID, INTERLEAVED_ID):
            blocks.setdefault(path.stem, block)
        for figure in document.get("results") or [] if path.stem == INTERLEAVED_ID else []:
            target = (figure.get("params") or {}).get("target")
            if isinstance(target, str) and target not in REFERENCE_TARGETS:
                blocks.setdefault(target, {})
    return blocks


def definitions_for(data: Path, directory: Path) -> Path:
    """A directory of server definitions for a site built from SYNTHETIC data: the repository's,
    and for each server the data names that has none, a SYNTHETIC one saying what its data file
    says (name, summary, links, notes), so its pages show the data's text. The site build
    refuses data of a server without a definition, as ``nox -s validate`` does."""
    shutil.copytree(DEFINITIONS_DIR, directory, dirs_exist_ok=True)
    for server_id, block in _server_blocks(data).items():
        target = directory / f"{server_id}.toml"
        if target.exists():
            continue
        interface = block.get("interface") if block.get("interface") in ("wsgi", "asgi") else "wsgi"
        fields = {
            "id": server_id,
            "name": block.get("name") or server_id,
            "interface": interface,
            "mode": "production",
            "summary": block.get("summary") or "A SYNTHETIC server of a test.",
            "homepage": block.get("homepage") or "https://example.org/",
            "docs": block.get("docs") or "https://example.org/docs",
            "requirements": [],
            "stop_signal": "SIGTERM",
            "notes": [str(note) for note in block.get("notes") or []],
        }
        lines = [f"{key} = {_toml_value(value)}" for key, value in fields.items()]
        lines += ["[commands]", 'http = ["synthetic", "--port", "{port}"]']
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def build_site(
    data: Path, site: Path, *, define_servers: bool = True, repo_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of the real site from the data in ``data``, into ``site``; with
    ``define_servers``, beside definitions of the data's servers (``definitions_for``); told the
    repository's address only when ``repo_url`` is given, as a local build is."""
    env = {**os.environ, "SERVING_DJANGO_DATA": str(data)}
    env.pop("SERVING_DJANGO_REPO_URL", None)
    if repo_url is not None:
        env["SERVING_DJANGO_REPO_URL"] = repo_url
    if define_servers:
        servers = definitions_for(data, site.with_name(f"{site.name}-servers"))
        env["SERVING_DJANGO_SERVERS"] = str(servers)
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
