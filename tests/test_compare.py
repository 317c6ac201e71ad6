"""Regression diff between captures on one machine."""

from __future__ import annotations

from harness.compare import changes_in_capture
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
