"""One repeat of a figure, and how repeats become the published figure (median and spread)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

CV_FLAG_PERCENT = 10.0  # figures whose coefficient of variation exceeds this are flagged


@dataclass
class Measurement:
    """One repeat: the tool's numbers, or why this repeat produced no valid figure.

    ``metrics`` names end in their unit (``requests_per_s``, ``latency_p95_ms``,
    ``errors_percent``, ``memory_pss_bytes``); ``None`` means "not measured" and is never a zero.
    ``details`` keeps the raw evidence: the command, the tool's summary lines, notes.
    """

    metrics: dict[str, float | int | None] = field(default_factory=dict)
    failure: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # Whose fault a failure is (evidence.vocabulary.FAILED_BY): the machine's when PostgreSQL,
    # nginx or a load tool could not run, whatever the server would have done.
    failed_by: str = "server"

    @property
    def ok(self) -> bool:
        return self.failure is None

    def as_record(self) -> dict[str, Any]:
        fault = {} if self.ok else {"failed_by": self.failed_by}
        record = {"ok": self.ok, "failure": self.failure, "metrics": self.metrics, **fault}
        return {**record, **self.details}


def coefficient_of_variation(values: Sequence[float]) -> float | None:
    """Sample standard deviation over mean, in percent; None for fewer than two values."""
    if len(values) < 2:
        return None
    mean = statistics.fmean(values)
    if mean == 0:
        return 0.0 if all(value == 0 for value in values) else None
    return statistics.stdev(values) / mean * 100


def spread(values: Sequence[float]) -> dict[str, float | None]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "cv_percent": coefficient_of_variation(values),
    }


def failed_by(repeats: Sequence[Measurement]) -> str:
    """Whose fault a failed figure is. The machine's first: a figure the machine could not
    measure says nothing about the server, whatever else went wrong in it."""
    faults = {repeat.failed_by for repeat in repeats if not repeat.ok}
    return next((fault for fault in ("machine", "harness") if fault in faults), "server")


def summarise(repeats: Sequence[Measurement]) -> dict[str, Any]:
    """The published figure: medians of every metric over the repeats, with min, max and CV.

    A figure is ``ok`` only if every repeat was: a failed repeat makes the figure failed (with
    the repeats' reasons) rather than a median of the survivors.
    """
    failures = [repeat.failure for repeat in repeats if not repeat.ok]
    if not repeats:
        failures = ["no repeat was run"]
    names = sorted({name for repeat in repeats for name in repeat.metrics})
    metrics: dict[str, float | None] = {}
    spreads: dict[str, dict[str, float | None]] = {}
    flags = []
    if not failures:
        for name in names:
            values = [r.metrics[name] for r in repeats if r.metrics.get(name) is not None]
            if len(values) != len(repeats):
                metrics[name] = None  # not measured in every repeat: not published
                continue
            spreads[name] = spread(values)
            metrics[name] = spreads[name]["median"]
            cv = spreads[name]["cv_percent"]
            if cv is not None and cv > CV_FLAG_PERCENT:
                flags.append(
                    {"metric": name, "cv_percent": cv, "threshold_percent": CV_FLAG_PERCENT}
                )
    return {
        "status": "failed" if failures else "ok",
        **({"failed_by": failed_by(repeats)} if failures else {}),
        "failure": "; ".join(dict.fromkeys(f for f in failures if f)) or None,
        "metrics": metrics,
        "spread": spreads,
        "flags": flags,
        "repeats": [repeat.as_record() for repeat in repeats],
    }
