"""Turn repeated measurements into figure records, and decide which figures get more repeats.

Repeats are taken in *rounds*: one round measures every figure of a group once (for example
every client count against one freshly started server), so slow drift of the machine spreads
over all figures instead of biasing one. After the minimum number of rounds, only figures whose
spread is still wide (CV above 10 %) get further rounds, up to the profile's maximum.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from harness.benchmarks.measurement import CV_FLAG_PERCENT, Measurement, summarise
from harness.benchmarks.settings import BenchmarkSettings
from harness.provenance import now_iso


def figure_record(
    scenario: str, figure: str, params: dict[str, Any], repeats: Sequence[Measurement]
) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "figure": figure,
        "params": params,
        "measured_at": now_iso(),
        **summarise(repeats),
    }


def failed_figure(
    scenario: str, figure: str, params: dict[str, Any], reason: str, failed_by: str = "server"
) -> dict:
    """A figure that could not be measured at all (the server did not start, ...)."""
    return figure_record(
        scenario, figure, params, [Measurement(failure=reason, failed_by=failed_by)]
    )


def _wide(repeats: Sequence[Measurement], metric: str) -> bool:
    summary = summarise(repeats)
    cv = summary["spread"].get(metric, {}).get("cv_percent")
    return summary["status"] == "ok" and cv is not None and cv > CV_FLAG_PERCENT


def measure_in_rounds[Key: Hashable](
    keys: Sequence[Key],
    run_round: Callable[[Sequence[Key]], dict[Key, Measurement]],
    settings: BenchmarkSettings,
    metric: str = "requests_per_s",
) -> dict[Key, list[Measurement]]:
    """Call ``run_round`` with the figures to measure until each has enough repeats."""
    repeats: dict[Key, list[Measurement]] = {key: [] for key in keys}
    pending: Sequence[Key] = list(keys)
    done_rounds = 0
    while pending:
        for key, measurement in run_round(pending).items():
            repeats[key].append(measurement)
        done_rounds += 1
        # A figure with a failed repeat is published as failed: more repeats cannot save it.
        healthy = [key for key in keys if all(m.ok for m in repeats[key])]
        if done_rounds < settings.repeats:
            pending = healthy
        elif done_rounds < settings.max_repeats:
            pending = [key for key in healthy if _wide(repeats[key], metric)]
        else:
            pending = []
    return repeats
