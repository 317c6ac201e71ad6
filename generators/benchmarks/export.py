"""The public ``data/benchmarks.json``: every shown figure with its repeats and source."""

from __future__ import annotations

from typing import Any

from evidence.schema import SCHEMA_VERSION
from generators.benchmarks.figures import Benchmarks


def export(benchmarks: Benchmarks, machines: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "machines": [machines[machine.id] for machine in benchmarks.machines],
        "results": [
            {
                "server": file.server["id"],
                "scenario": figure.record["scenario"],
                "figure": figure.record["figure"],
                "machine": file.document["machine"],
                "capture": file.document["capture"],
                "profile": file.document["profile"],
                "settings": file.document["settings"],
                "measured_at": figure.record["measured_at"],
                "params": figure.record["params"],
                "status": figure.record["status"],
                "failure": figure.record["failure"],
                "metrics": figure.record["metrics"],
                "spread": figure.record["spread"],
                "flags": figure.record["flags"],
                "repeats": figure.record["repeats"],
                "source": file.source,
            }
            for file in benchmarks.files()
            for figure in file.figures
        ],
    }
