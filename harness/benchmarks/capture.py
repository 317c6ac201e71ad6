"""The benchmark phase of a capture: calibration, the interleaved rounds of every server, then
every server's scenarios, one at a time.

It runs after the behaviour checks, alone on the machine (no parallel servers): the server is
pinned to one CPU, this thread and the load tools it starts to the other. Each server's figures
go to one file, ``data/benchmarks/<machine>/<capture>/<server>.json``, written once its
scenarios are done; calibration goes to ``calibration.json`` beside them, and the interleaved
rounds (every configuration and the reference apps in one run) to ``interleaved.json``. A
scenario that crashes is recorded as failed with its traceback and the next one runs.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil

from evidence.vocabulary import CALIBRATION_ID, INTERLEAVED_ID, SCENARIOS
from harness.benchmarks.calibration import Calibration
from harness.benchmarks.figures import failed_figure
from harness.benchmarks.h2load import h2load_version
from harness.benchmarks.interleaved import interleaved_figures
from harness.benchmarks.locust import locust_version
from harness.benchmarks.nginx import nginx_version
from harness.benchmarks.openload.command import node_version
from harness.benchmarks.pinning import Pinning, choose_pinning
from harness.benchmarks.scenarios import SERVER_SCENARIOS, ServerBench
from harness.benchmarks.settings import BENCHMARK_SETTINGS
from harness.capture_plan import Capture
from harness.definitions import ServerDefinition, load_definitions
from harness.endpoints import load_endpoints
from harness.environments import Environment, InstallError, ensure_environment
from harness.network import make_tls_material
from harness.prepared import (
    PrepareError,
    code_and_machine,
    prepared_launcher,
    provenance,
    server_version,
)
from harness.process_registry import scratch_folder
from harness.progress import Progress, ServerProgress
from harness.provenance import now_iso
from harness.sizing import SERVER_CPUS
from harness.upstream import UpstreamService

# No benchmark judges how a server shuts down (the graceful-shutdown check does), and a server
# still busy with a run's held streams or queued requests would wait out a long grace period
# (Gunicorn: 30 s): servers are killed right after their stop signal.
STOP_GRACE_S = 0.0

CALIBRATION_SERVER = "granian-asgi"  # its environment has Granian, which serves the raw apps
WORKER_RULE = (
    f"the production worker and thread counts each definition declares for {SERVER_CPUS} CPU "
    "(its [production] rule; provenance.sizing), on the one CPU the server is pinned to; "
    "locust-upstream runs one worker, as its article did"
)


def tool_versions() -> dict[str, str | None]:
    return {
        "h2load": h2load_version(),
        "locust": locust_version(),
        "nginx": nginx_version(),
        "node": node_version(),  # runs openload, whose code is the capture's git commit's
    }


SETTINGS_SOURCE = "recorded by the harness when it measured this file"


def _document(
    capture: Capture,
    server: dict[str, Any],
    record_provenance: dict[str, Any],
    setup: dict[str, Any],
    results: list[dict[str, Any]],
    started_at: str,
) -> dict[str, Any]:
    return {
        **capture.document_header(started_at),
        "server": server,
        "provenance": record_provenance,
        # How the figures were measured, kept with them: pages never read today's settings.
        "settings": BENCHMARK_SETTINGS[capture.profile.name].as_record(),
        "settings_source": SETTINGS_SOURCE,
        "setup": setup,
        "results": results,
    }


def benchmark_provenance(pinning: Pinning) -> dict[str, Any]:
    """What only benchmarks depend on, added to the capture's provenance."""
    return {"pinning": pinning.as_record(), "tools": tool_versions(), "worker_rule": WORKER_RULE}


# Scenarios measured once per capture, each into its own file, rather than once per server.
CAPTURE_WIDE = {"calibration": CALIBRATION_ID, "interleaved": INTERLEAVED_ID}


def _failed_all(
    scenarios: Sequence[str], reason: str, failed_by: str = "server"
) -> list[dict[str, Any]]:
    return [
        failed_figure(scenario, "server", {}, reason, failed_by)
        for scenario in SCENARIOS
        if scenario in scenarios and scenario not in CAPTURE_WIDE
    ]


def benchmark_server(
    capture: Capture,
    definition: ServerDefinition,
    pinning: Pinning,
    server_progress: ServerProgress,
    upstream: UpstreamService | None,
) -> dict[str, Any]:
    """The server's benchmark file; the caller writes it, then reports it recorded."""
    settings = replace(
        BENCHMARK_SETTINGS[capture.profile.name], locust_processes=capture.locust_workers
    )
    base_env = upstream.base_env() if upstream else {}
    started_at = now_iso()
    setup: dict[str, Any] = {"ok": False, "error": None, "log_tail": ""}
    server_progress.begin()
    environment: Environment | None = None
    results: list[dict[str, Any]] = []
    fault = "server"
    try:
        environment = ensure_environment(definition, capture.environments_dir)
    except InstallError as error:
        setup["error"] = f"environment could not be installed: {error}"[:2000]
    if environment is not None:
        server_progress.step("preparing database")
        try:
            with prepared_launcher(
                definition,
                environment,
                replace(capture.profile, stop_grace_s=STOP_GRACE_S),
                base_env,
                "serving-django-bench-",
                tuple(pinning.server_prefix()),
            ) as (launcher, scratch):
                setup["ok"] = True
                bench = ServerBench(
                    definition,
                    launcher,
                    settings,
                    pinning,
                    load_endpoints(),
                    scratch,
                    server_progress,
                    upstream,
                    frozenset(capture.selected_scenarios()),
                    capture.interrupted,
                )
                _run_scenarios(bench)
                results = bench.figures
        except PrepareError as error:
            setup["error"] = f"database preparation failed: {error.reason}"
            setup["log_tail"] = error.log
        except OSError as error:  # its scratch folder could not be made or written
            setup["error"] = f"the machine's scratch folder could not be used: {error}"
            fault = "machine"
    if not setup["ok"]:
        server_progress.result("error", setup["error"])
        results = _failed_all(
            capture.selected_scenarios(), f"Not measured: {setup['error']}", fault
        )
    server = {
        "id": definition.id,
        "name": definition.name,
        "interface": definition.interface,
        "mode": definition.mode,
        "version": server_version(definition, environment),
    }
    record_provenance = {
        **provenance(capture, definition, environment, base_env),
        **benchmark_provenance(pinning),
    }
    return _document(capture, server, record_provenance, setup, results, started_at)


def _run_scenarios(bench: ServerBench) -> None:
    for produces, scenario in SERVER_SCENARIOS:
        wanted = sorted(produces & bench.scenarios)
        if not wanted or bench.interrupted.is_set():
            continue
        bench.progress.step(", ".join(wanted))
        try:
            scenario(bench)
        except Exception as error:  # one scenario's bug must not lose the others' figures
            reason = f"the scenario crashed: {type(error).__name__}: {error}"[:1500]
            # An OSError is the machine refusing (a missing load tool, a folder it cannot
            # write); anything else is a bug of the scenario.
            fault = "machine" if isinstance(error, OSError) else "harness"
            for name in wanted:
                record = failed_figure(name, "scenario", bench.common_params(), reason, fault)
                record["repeats"][0]["traceback"] = traceback.format_exc()[-4000:]
                bench.add(record)


def calibrate(
    capture: Capture,
    definitions: dict[str, ServerDefinition],
    pinning: Pinning,
    calibration_progress: ServerProgress,
) -> dict[str, Any]:
    settings = replace(
        BENCHMARK_SETTINGS[capture.profile.name], locust_processes=capture.locust_workers
    )
    started_at = now_iso()
    definition = definitions.get(CALIBRATION_SERVER)
    setup: dict[str, Any] = {"ok": True, "error": None, "log_tail": ""}
    environment = None
    try:
        if definition is None:
            raise InstallError(f"no {CALIBRATION_SERVER} definition to take Granian from")
        environment = ensure_environment(definition, capture.environments_dir)
    except InstallError as error:
        setup.update(ok=False, error=f"Granian could not be installed: {error}"[:2000])
    calibration_progress.begin()
    with scratch_folder("serving-django-calibration-") as scratch:
        calibration = Calibration(
            settings,
            pinning,
            environment,
            make_tls_material(scratch / "tls"),
            scratch,
            calibration_progress,
        )
        results = calibration.run()
    record = {**code_and_machine(capture, environment), **benchmark_provenance(pinning)}
    server = {
        "id": CALIBRATION_ID,
        "name": "Load-tool calibration (nginx return 200; raw ASGI/WSGI apps on Granian)",
        "interface": "none",
        "mode": "none",
        "version": environment.packages.get("granian") if environment else None,
    }
    return _document(capture, server, record, setup, results, started_at)


def interleave(
    capture: Capture,
    definitions: Sequence[ServerDefinition],
    known: dict[str, ServerDefinition],
    pinning: Pinning,
    interleaved_progress: ServerProgress,
    upstream: UpstreamService | None,
) -> dict[str, Any]:
    """The interleaved rounds' file: every configuration and both reference apps."""
    settings = BENCHMARK_SETTINGS[capture.profile.name]
    started_at = now_iso()
    granian: Environment | None = None
    # Each target's figures say why it failed; the file as a whole is always set up.
    setup: dict[str, Any] = {"ok": True, "error": None, "log_tail": ""}
    interleaved_progress.begin()
    try:
        granian = ensure_environment(known[CALIBRATION_SERVER], capture.environments_dir)
    except KeyError:
        interleaved_progress.note(f"no {CALIBRATION_SERVER} definition to take Granian from")
    except InstallError as error:
        interleaved_progress.note(f"Granian could not be installed: {error}"[:300])
    with scratch_folder("serving-django-interleaved-") as tmp:
        results = interleaved_figures(
            capture,
            definitions,
            granian,
            settings,
            pinning,
            interleaved_progress,
            upstream,
            tmp,
            STOP_GRACE_S,
        )
    server = {
        "id": INTERLEAVED_ID,
        "name": "Interleaved rounds (every configuration, and raw ASGI/WSGI apps on Granian)",
        "interface": "none",
        "mode": "none",
        "version": None,
    }
    record = {**code_and_machine(capture, granian), **benchmark_provenance(pinning)}
    return _document(capture, server, record, setup, results, started_at)


def _pin_tree(pid: int, cpu: int) -> None:
    """Move an already running helper process (the upstream service) to the load CPU."""
    try:
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            process.cpu_affinity([cpu])
    except psutil.Error:
        pass


def run_benchmarks(
    capture: Capture,
    definitions: Sequence[ServerDefinition],
    upstream: UpstreamService | None,
    all_definitions: dict[str, ServerDefinition] | None = None,
) -> list[Path]:
    """Benchmark every definition (after calibration); returns the files written."""
    # A resumed capture measures only what it does not hold yet.
    selected = list(definitions)
    definitions = [d for d in definitions if not capture.has_file("benchmarks", d.id)]
    scenarios = [
        scenario
        for scenario in capture.selected_scenarios()
        if scenario not in CAPTURE_WIDE
        or not capture.has_file("benchmarks", CAPTURE_WIDE[scenario])
    ]
    server_scenarios = [s for s in scenarios if s not in CAPTURE_WIDE]
    pinning = choose_pinning()
    total = len(definitions) if server_scenarios else 0
    capture_wide = sum(s in CAPTURE_WIDE for s in scenarios)
    progress = Progress(total + capture_wide)
    progress.expect_capture_wide(capture_wide)
    known = all_definitions if all_definitions is not None else load_definitions()
    cpus = pinning.as_record()
    progress.note(
        f"benchmarks ({capture.profile.name}): {', '.join(scenarios)}; server on CPU "
        f"{cpus['server_cpus']}, load tools on CPU {cpus['load_cpus']}"
    )
    written: list[Path] = []
    saved_affinity = os.sched_getaffinity(0)
    pinning.pin_current_thread_to_load_cpu()
    if pinning.pinned and upstream is not None and upstream.instance is not None:
        _pin_tree(upstream.instance.process.pid, pinning.load_cpu)
    try:
        if "calibration" in scenarios:
            calibration_progress = progress.server(CALIBRATION_ID)
            document = calibrate(capture, known, pinning, calibration_progress)
            capture.not_captured.update(machine_failures(CALIBRATION_ID, document))
            written += _record(capture, CALIBRATION_ID, document, calibration_progress)
        if "interleaved" in scenarios and not capture.interrupted.is_set():
            interleaved_progress = progress.server(INTERLEAVED_ID)
            document = interleave(capture, selected, known, pinning, interleaved_progress, upstream)
            capture.not_captured.update(machine_failures(INTERLEAVED_ID, document))
            if not capture.interrupted.is_set():
                written += _record(capture, INTERLEAVED_ID, document, interleaved_progress)
        for definition in definitions if server_scenarios else ():
            server_progress = progress.server(definition.id)
            document = benchmark_server(capture, definition, pinning, server_progress, upstream)
            if capture.interrupted.is_set():
                break
            if not document["setup"]["ok"]:
                capture.not_captured[f"{definition.id} (benchmarks)"] = str(
                    document["setup"]["error"]
                )
            capture.not_captured.update(machine_failures(definition.id, document))
            written += _record(capture, definition.id, document, server_progress)
    finally:
        os.sched_setaffinity(0, saved_affinity)
    return written


def machine_failures(name: str, document: dict[str, Any]) -> dict[str, str]:
    """The figures of a benchmark file that failed by the machine's fault, by name, with
    why: the capture lists them and exits non-zero, for they say nothing about the server."""
    return {
        f"{name} (benchmarks): {figure['figure']}": f"the machine's fault: {figure['failure']}"
        for figure in document["results"]
        if figure["status"] == "failed" and figure.get("failed_by") == "machine"
    }


def _record(
    capture: Capture, name: str, document: dict[str, Any], server_progress: ServerProgress
) -> list[Path]:
    """Write the file, then say it is recorded: a stop at a "recorded" line (Ctrl-C, or a
    SIGTERM sent on seeing it) keeps the file, which a line printed before the write did not
    (a whole configuration's 21 minutes were lost that way)."""
    path = capture.data.benchmark_path(capture.machine_id, capture.capture_id, name)
    written = capture.write(path, document, "benchmark", f"{name} (benchmarks)")
    server_progress.end(document)
    return [written] if written else []
