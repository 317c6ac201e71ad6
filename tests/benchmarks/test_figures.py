"""How repeats become a published figure, and which figures get extra repeats."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness.benchmarks.figures import figure_record, measure_in_rounds
from harness.benchmarks.measurement import Measurement, summarise
from harness.benchmarks.settings import BENCHMARK_SETTINGS


def repeats(*rates: float) -> list[Measurement]:
    return [Measurement(metrics={"requests_per_s": rate}) for rate in rates]


def test_the_figure_is_the_median_with_min_max_and_cv():
    summary = summarise(repeats(90.0, 100.0, 130.0))
    assert summary["status"] == "ok"
    assert summary["metrics"]["requests_per_s"] == 100.0
    spread = summary["spread"]["requests_per_s"]
    assert (spread["min"], spread["max"]) == (90.0, 130.0)
    assert spread["cv_percent"] == pytest.approx(19.52, abs=0.01)  # stdev 20.82 / mean 106.67
    (flag,) = summary["flags"]  # stored with the figure: pages read it, never recompute it
    assert flag["metric"] == "requests_per_s"
    assert flag["cv_percent"] == pytest.approx(19.52, abs=0.01)
    assert flag["threshold_percent"] == 10.0
    assert len(summary["repeats"]) == 3


def test_a_steady_figure_is_not_flagged():
    assert summarise(repeats(100.0, 101.0, 99.0))["flags"] == []


def test_one_failed_repeat_fails_the_figure_and_publishes_no_number():
    measured = [*repeats(100.0, 101.0), Measurement(failure="the server exited (code 1)")]
    summary = summarise(measured)
    assert summary["status"] == "failed"
    assert summary["failure"] == "the server exited (code 1)"
    assert summary["metrics"] == {}
    assert [r["ok"] for r in summary["repeats"]] == [True, True, False]


def test_a_metric_missing_from_one_repeat_is_not_published():
    measured = [
        Measurement(metrics={"requests_per_s": 1.0, "latency_p50_ms": 2.0}),
        Measurement(metrics={"requests_per_s": 1.0, "latency_p50_ms": None}),
    ]
    assert summarise(measured)["metrics"]["latency_p50_ms"] is None


def test_rounds_repeat_every_figure_then_only_the_widely_spread_ones():
    settings = replace(BENCHMARK_SETTINGS["standard"], repeats=3, max_repeats=5)
    rates = {"steady": iter([100.0] * 10), "noisy": iter([50.0, 150.0, 100.0, 90.0, 110.0])}
    asked: list[list[str]] = []

    def run_round(pending):
        asked.append(list(pending))
        return {key: Measurement(metrics={"requests_per_s": next(rates[key])}) for key in pending}

    result = measure_in_rounds(["steady", "noisy"], run_round, settings)
    assert asked[:3] == [["steady", "noisy"]] * 3
    assert asked[3:] == [["noisy"], ["noisy"]]
    assert len(result["steady"]) == 3 and len(result["noisy"]) == 5


def test_a_figure_that_failed_gets_no_more_rounds():
    settings = BENCHMARK_SETTINGS["standard"]
    calls = []

    def run_round(pending):
        calls.append(list(pending))
        return {key: Measurement(failure="refused") for key in pending}

    result = measure_in_rounds(["a"], run_round, settings)
    assert calls == [["a"]]
    assert figure_record("h2load", "a", {}, result["a"])["status"] == "failed"
