"""What setup a result was measured on, so that results of two setups are never compared as if
alike ("+720 % since the previous capture" between a one-worker and a three-worker run says
nothing about the server).

A check run's setup is the server's sizing (worker processes and threads per worker, recorded
in its provenance); a benchmark figure's is the parameters that shape its load or the server
under it. A parameter missing on one side counts as different: a file from before the harness
recorded it does not say which value it ran with.
"""

from __future__ import annotations

from typing import Any

# Benchmark parameters that shape what a figure measures. The others are measured values
# (a converged window, a calibrated target rate), per-run incidentals (ports) or descriptions.
FIGURE_SETUP_PARAMETERS = (
    "workers",
    "threads",
    "processes",
    "middleware_stack",
    "static_files_middleware",
    "connections",
    "pool_max_size",
    "pool_timeout_s",
    "upstream_client",
    "steps",
    "clients",
    "request_timeout_s",
    "server_cpus",
    "load_cpus",
    "proxy",
    "database",
)

_MISSING = object()


def figure_setup_differences(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[str]:
    """The setup parameters on which two figures' recorded ``params`` differ, in a fixed order."""
    before, after = before or {}, after or {}
    return [
        name
        for name in FIGURE_SETUP_PARAMETERS
        if (name in before or name in after)
        and before.get(name, _MISSING) != after.get(name, _MISSING)
    ]


def run_setup(run: dict[str, Any]) -> dict[str, Any]:
    """A check run's sizing: worker processes, and threads per worker where recorded."""
    provenance = run.get("provenance") or {}
    sizing = provenance.get("sizing") or {}
    return {"workers": provenance.get("workers"), "threads": sizing.get("threads")}


def describe_run_setup(run: dict[str, Any]) -> str:
    setup = run_setup(run)
    workers = setup["workers"]
    if workers is None:
        text = "workers not recorded"
    else:
        text = f"{workers} worker" + ("" if workers == 1 else "s")
    if setup["threads"] is not None:
        text += f" x {setup['threads']} threads"
    return text


def run_setup_differs(before: dict[str, Any], after: dict[str, Any]) -> bool:
    return run_setup(before) != run_setup(after)
