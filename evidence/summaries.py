"""A benchmark figure's numbers checked against each other and against their metric: each summary
(the published metric, its median, min, max and CV) is what its repeats give, and every value is
one its metric allows (``evidence.metrics``: ``Metric.allowed``).

The harness publishes a figure as the median of its repeats with their min, max and coefficient
of variation (``harness.benchmarks.measurement.summarise``); the formulas below are the same ones
(``tests/test_summaries.py`` holds them together). A file whose median lies outside its own min
and max, or whose CV is not its repeats', did not come from a capture.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator, Sequence
from typing import Any

from evidence.metrics import lookup

# ``evidence.files.dumps`` keeps six decimals: a stored number is within half of the sixth
# decimal of the one computed, so a summary and its repeats agree within a few of these.
HALF_LAST_DIGIT = 0.5e-6


def coefficient_of_variation(values: Sequence[float]) -> float | None:
    """Sample standard deviation over mean, in percent; None for fewer than two values (or a
    zero mean over values that are not all zero)."""
    if len(values) < 2:
        return None
    mean = statistics.fmean(values)
    if mean == 0:
        return 0.0 if all(value == 0 for value in values) else None
    return statistics.stdev(values) / mean * 100


def _cv_slack(values: Sequence[float], cv: float) -> float:
    """How far the CV of the stored (rounded) repeats may lie from the stored CV, which was
    computed before rounding: each value moved by up to half a last digit moves the standard
    deviation by up to that times sqrt(n / (n - 1)) and the mean by up to that."""
    mean = abs(statistics.fmean(values))
    if mean <= HALF_LAST_DIGIT:
        return math.inf
    root = math.sqrt(len(values) / (len(values) - 1))
    return 100 * HALF_LAST_DIGIT * (root + abs(cv) / 100) / (mean - HALF_LAST_DIGIT) + (
        HALF_LAST_DIGIT + 1e-9 * abs(cv)
    )


def _near(stored: float, computed: float) -> bool:
    return abs(stored - computed) <= 2 * HALF_LAST_DIGIT + 1e-9 * abs(computed)


def _spread_problems(where: str, spread: dict[str, Any], values: list[float]) -> Iterator[str]:
    low, median, high = spread["min"], spread["median"], spread["max"]
    if not low <= median <= high:
        yield f"{where}/median: {median!r} is not between its min {low!r} and max {high!r}"
    if not values:
        return  # repeats that did not store the metric: nothing more to compare
    for key, computed in (
        ("median", statistics.median(values)),
        ("min", min(values)),
        ("max", max(values)),
    ):
        if not _near(spread[key], computed):
            yield f"{where}/{key}: {spread[key]!r}, but its repeats give {computed!r}"
    try:
        computed_cv = coefficient_of_variation(values)
    except OverflowError:  # values past any bound: bound_problems names them
        return
    cv = spread["cv_percent"]
    if (cv is None) != (computed_cv is None) or (
        cv is not None
        and computed_cv is not None
        and abs(cv - computed_cv) > _cv_slack(values, computed_cv)
    ):
        yield f"{where}/cv_percent: {cv!r}, but its repeats give {computed_cv!r}"


def summary_problems(index: int, figure: dict[str, Any]) -> list[str]:
    """'field: problem' lines where the figure's published metrics and spreads disagree with
    each other or with its repeats."""
    problems: list[str] = []
    repeats = figure.get("repeats") or []
    metrics, spreads = figure.get("metrics") or {}, figure.get("spread") or {}
    for name, value in metrics.items():
        if value is None:
            continue
        if name not in spreads:
            problems.append(
                f"results/{index}/metrics/{name}: published without its spread over the repeats"
            )
        elif not _near(value, spreads[name]["median"]):
            problems.append(
                f"results/{index}/metrics/{name}: {value!r} is not its spread's median "
                f"{spreads[name]['median']!r}"
            )
    for name, spread in spreads.items():
        where = f"results/{index}/spread/{name}"
        stored = [(repeat.get("metrics") or {}).get(name) for repeat in repeats]
        values = [value for value in stored if value is not None]
        if values and len(values) != len(stored):
            problems.append(
                f"{where}: only {len(values)} of the {len(stored)} repeats measured it (a spread "
                "is over every repeat)"
            )
            continue
        problems += _spread_problems(where, spread, values)
    return problems


def _value_problem(where: str, name: str, value: Any, *, counted: bool) -> str | None:
    meaning = lookup(name)
    if meaning is None or value is None or isinstance(value, bool):
        return None  # unregistered names and non-numbers are reported elsewhere
    allowed = meaning.metric.allowed
    if not allowed.low <= value <= allowed.high:  # an int past any float compares too
        return (
            f"{where}: {value!r} is outside what {meaning.metric.name} can be "
            f"({allowed.low:g} to {allowed.high:,g} {meaning.metric.unit.stored}; "
            "evidence/metrics.py)"
        )
    if counted and allowed.whole and value != int(value):
        return f"{where}: {value!r} is not a whole number ({meaning.metric.name} counts)"
    return None


def bound_problems(index: int, figure: dict[str, Any]) -> list[str]:
    """'field: problem' lines for each value outside what its metric allows: in the figure's
    metrics, its spreads and its repeats."""
    prefix = f"results/{index}"
    found: list[str | None] = []
    for name, value in (figure.get("metrics") or {}).items():
        found.append(_value_problem(f"{prefix}/metrics/{name}", name, value, counted=False))
    for name, spread in (figure.get("spread") or {}).items():
        for key in ("median", "min", "max"):
            where = f"{prefix}/spread/{name}/{key}"
            found.append(_value_problem(where, name, spread[key], counted=key != "median"))
        cv = spread["cv_percent"]
        if cv is not None and cv < 0:  # no metric is negative, so neither is a CV
            found.append(f"{prefix}/spread/{name}/cv_percent: {cv!r} is negative")
    for number, repeat in enumerate(figure.get("repeats") or []):
        for name, value in (repeat.get("metrics") or {}).items():
            where = f"{prefix}/repeats/{number}/metrics/{name}"
            found.append(_value_problem(where, name, value, counted=True))
    return [problem for problem in found if problem is not None]
