"""How the shown benchmark figures were measured, as their files record it (never from today's
harness settings, which may have changed since the capture)."""

from __future__ import annotations

import json
from typing import Any

from generators.benchmarks.figures import Benchmarks

SETTING_LABELS = {
    "repeats": "Repeats of every figure, at least",
    "max_repeats": "Repeats at most (extra rounds only while CV exceeds its threshold)",
    "cv_flag_percent": "CV threshold for extra rounds and the ⚠ CV flag (%)",
    "warmup_s": "Warm-up before each h2load run (not counted)",
    "duration_s": "Window of each h2load run (with the rule: at least)",
    "window_requests_per_client": "Requests per client in a window (the window rule; 0: off)",
    "window_probe_s": "Probe run that scales a figure's window (not a figure)",
    "max_window_s": "Longest window the rule chooses",
    "convergence_clients": "Convergence: client counts measured with two windows",
    "convergence_factor": "Convergence: the longer window, as a multiple of the rule's",
    "interleaved_clients": "Interleaved rounds: client counts of each configuration's own view",
    "interleaved_rounds": "Interleaved rounds: every configuration and reference once per round",
    "interleaved_middleware_stacks": "Interleaved rounds: middleware stacks of each configuration",
    "clients": "h2load concurrent clients over plain HTTP/1.1",
    "other_endpoint_clients": "h2load concurrent clients for the other views over HTTP/1.1",
    "other_protocol_clients": "h2load concurrent clients over the other protocols",
    "other_protocol_endpoints": "Views measured over the other protocols",
    "fixed_rate_fraction": "Fixed rate, fraction of the server's maximum (h2load, closed loop)",
    "fixed_rate_fractions": "Fixed rates, as fractions of the server's maximum (openload)",
    "fixed_rate_warmup_s": "Warm-up at the fixed rate before its window (openload)",
    "fixed_rate_probe_s": "Window of the closed-loop run that measures the maximum (openload)",
    "fixed_rate_duration_s": "Window of a fixed-rate run",
    "fixed_rate_drain_s": "How long a fixed-rate window's answers are awaited after it (openload)",
    "fixed_rate_connections": "Connections of the fixed-rate pool (openload)",
    "idle_bound": "Idle connections attempted",
    "idle_open_deadline_s": "Deadline to open them",
    "idle_stall_s": "Opening stops when none has opened for (the server's limit)",
    "idle_hold_s": "Time they are held before counting (memory and a fresh request halfway)",
    "idle_repeats": "Idle connections: fresh servers per figure",
    "polls_steps": "Locust steps, polls (users × seconds)",
    "upstream_steps": "Locust steps, slow upstream (users × seconds)",
    "locust_timeout_s": "Locust request timeout (slower counts as failed)",
    "upstream_ramp_s": "Slow upstream: start of each step left out of its figures (the ramp)",
    "upstream_spawn_rate": "Slow upstream: users started per second",
    "upstream_timeout_s": "Slow upstream: Locust request timeout",
    "upstream_repeats": "Slow upstream: runs of every figure",
    "polls_article_steps": "Polls, the article's setup: Locust steps (users × seconds)",
    "polls_article_ramp_s": "Polls, the article's setup: start of each step left out (the ramp)",
    "polls_article_timeout_s": "Polls, the article's setup: Locust request timeout",
    "polls_article_repeats": "Polls, the article's setup: runs of every figure",
    "polls_unpooled_servers": "Polls, the article's setup: also unpooled on (*: every one)",
    "upstream_shared_client_servers": "Slow upstream: also with a shared client on (*: every one)",
    "locust_processes": "Locust worker processes (1: Locust alone; more: one master and workers)",
    "calibration_duration_s": "Duration of each calibration run",
}


def _setting_text(name: str, value: Any) -> str:
    if value is None:
        return "not recorded"
    if isinstance(value, list) and value and isinstance(value[0], list):
        return ", ".join(f"{users} × {seconds:g} s" for users, seconds in value)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if name.endswith("_s"):
        return f"{value:g} s"
    return f"{value:g}" if isinstance(value, float) else str(value)


def settings_table(benchmarks: Benchmarks) -> dict[str, Any]:
    """One column per distinct set of settings among the shown files (with the machine,
    captures and profile that used it), one row per setting."""
    columns: dict[str, dict[str, Any]] = {}
    for machine in benchmarks.machines:
        for file in machine.shown_files():
            document = file.document
            key = json.dumps([machine.id, document["settings"]], sort_keys=True)
            column = columns.setdefault(
                key,
                {
                    "machine": machine.id,
                    "settings": document["settings"] or {},
                    "captures": set(),
                    "profiles": set(),
                    "sources": set(),
                },
            )
            column["captures"].add(document["capture"])
            column["profiles"].add(document["profile"])
            column["sources"].add(document["settings_source"])
    shown = list(columns.values())
    names = [name for name in SETTING_LABELS if any(name in c["settings"] for c in shown)]
    names += sorted({name for c in shown for name in c["settings"]} - set(names))
    return {
        "columns": [
            {
                "heading": f"{c['machine']}, {', '.join(sorted(c['captures']))} "
                f"({', '.join(sorted(c['profiles']))})",
                "sources": sorted(c["sources"]),
            }
            for c in shown
        ],
        "rows": [
            (
                SETTING_LABELS.get(name, name),
                [_setting_text(name, c["settings"].get(name)) for c in shown],
            )
            for name in names
        ],
    }


def cv_thresholds(benchmarks: Benchmarks) -> str:
    """The CV threshold(s) the shown files were measured with, as text for a sentence."""
    values = sorted(
        {
            file.document["settings"]["cv_flag_percent"]
            for file in benchmarks.files()
            if file.document["settings"]
        }
    )
    if not values:
        return "the recorded"
    return " or ".join(f"{value:g}" for value in values)


def pinning_by_machine(benchmarks: Benchmarks) -> list[dict[str, Any]]:
    """Per machine, the CPUs server and load tools were pinned to, and the worker rules and
    tool versions, as the shown files record them."""
    rows = []
    for machine in benchmarks.machines:
        provenance = [file.document["provenance"] for file in machine.shown_files()]
        rows.append(
            {
                "machine": machine.id,
                "pinning": sorted(
                    {(p["pinning"]["server_cpus"], p["pinning"]["load_cpus"]) for p in provenance}
                ),
                "worker_rules": sorted({p["worker_rule"] for p in provenance}),
                "tools": sorted(
                    {
                        (tool, version or "not installed")
                        for p in provenance
                        for tool, version in p["tools"].items()
                    }
                ),
            }
        )
    return rows
