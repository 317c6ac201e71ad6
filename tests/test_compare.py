"""Regression diff between captures on one machine."""

from __future__ import annotations

from evidence.compare import benchmark_changes, changes_in_capture
from tests import synthetic


def _run(capture: str, outcome: str, version: str = "1.0", machine: str = "m1") -> dict:
    document = synthetic.run("uvicorn", outcome=outcome, capture=capture)
    document["server"]["version"] = version
    document["machine"] = machine
    return document


def test_flipped_outcomes_and_versions_are_reported() -> None:
    runs = [_run("20260101T000000Z", "yes"), _run("20260201T000000Z", "no", version="2.0")]
    described = [change.describe() for change in changes_in_capture(runs, "m1", "20260201T000000Z")]
    assert described == ["uvicorn: version 1.0 -> 2.0", "uvicorn concurrency-sync-sleep: yes -> no"]


def test_an_unchanged_capture_reports_nothing() -> None:
    runs = [_run("20260101T000000Z", "yes"), _run("20260201T000000Z", "yes")]
    assert changes_in_capture(runs, "m1", "20260201T000000Z") == []


def test_other_machines_are_never_the_baseline() -> None:
    runs = [_run("20260101T000000Z", "no", machine="m2"), _run("20260201T000000Z", "yes")]
    (change,) = changes_in_capture(runs, "m1", "20260201T000000Z")
    assert change.kind == "new-server"


def test_the_newest_earlier_capture_is_the_baseline() -> None:
    runs = [
        _run("20260101T000000Z", "no"),
        _run("20260115T000000Z", "yes"),
        _run("20260201T000000Z", "yes"),
    ]
    assert changes_in_capture(runs, "m1", "20260201T000000Z") == []


def _benchmark(
    capture: str, median: float, low: float, high: float, status: str = "ok", workers: int = 1
):
    """SYNTHETIC benchmark document (only the fields the comparison reads)."""
    spread = {"median": median, "min": low, "max": high, "cv_percent": 1.0}
    return {
        "machine": "m",
        "capture": capture,
        "server": {"id": "alpha"},
        "results": [
            {
                "scenario": "h2load",
                "figure": "http/1.1 json_sync c=200",
                "status": status,
                "params": {"clients": 200, "workers": workers, "duration_s": median / 10},
                "spread": {"requests_per_s": spread} if status == "ok" else {},
            }
        ],
    }


def test_a_median_that_moved_beyond_both_spreads_is_reported():
    documents = [
        _benchmark("20260101T000000Z", 100, 95, 105),
        _benchmark("20260102T000000Z", 80, 78, 83),
    ]
    (change,) = benchmark_changes(documents, "m", "20260102T000000Z")
    assert change.kind == "benchmark"
    assert "requests_per_s" in change.check and change.before.startswith("100")


def test_overlapping_spreads_are_noise_not_a_change():
    documents = [
        _benchmark("20260101T000000Z", 100, 90, 110),
        _benchmark("20260102T000000Z", 95, 85, 99),
    ]
    assert benchmark_changes(documents, "m", "20260102T000000Z") == []


def test_a_figure_that_started_failing_is_reported():
    documents = [
        _benchmark("20260101T000000Z", 100, 95, 105),
        _benchmark("20260102T000000Z", 0, 0, 0, "failed"),
    ]
    (change,) = benchmark_changes(documents, "m", "20260102T000000Z")
    assert (change.kind, change.before, change.after) == ("benchmark-status", "ok", "failed")


def test_figures_of_two_setups_are_named_not_compared():
    documents = [
        _benchmark("20260101T000000Z", 100, 95, 105),
        _benchmark("20260102T000000Z", 300, 290, 310, workers=3),
    ]
    (change,) = benchmark_changes(documents, "m", "20260102T000000Z")
    assert (change.kind, change.before, change.after) == (
        "benchmark-setup",
        "workers",
        "not compared",
    )
    assert "another setup" in change.describe()


def test_a_run_on_another_sizing_says_so_above_its_flips():
    before, after = _run("20260101T000000Z", "no"), _run("20260201T000000Z", "yes")
    before["provenance"] = {"workers": 1}
    after["provenance"] = {"workers": 3, "sizing": {"threads": 8}}
    described = [
        change.describe() for change in changes_in_capture([before, after], "m1", after["capture"])
    ]
    assert described == [
        "uvicorn: another setup, 1 worker -> 3 workers x 8 threads",
        "uvicorn concurrency-sync-sleep: no -> yes",
    ]
