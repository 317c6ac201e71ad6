"""The concurrency checks tell a concurrent server from a serial or limited one (and failures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checks import CheckContext, run_check
from harness.checks.concurrency import CHECKS, classify, judge
from harness.profiles import PROFILES
from tests import synthetic
from tests.conftest import instance_for

SYNC_CHECK = CHECKS[0]
TINY = synthetic.definition("tiny")


def _context(base_url: str, process, tmp_path: Path) -> CheckContext:
    endpoints = {"sleep_sync": "/sleep/sync", "sleep_async": "/sleep/a"}
    return CheckContext(TINY, endpoints, PROFILES["quick"], instance_for(base_url, process))


@pytest.mark.parametrize(
    ("mode", "outcome", "classes"),
    [
        ("threaded", "yes", ["concurrent", "concurrent"]),
        ("serial", "no", ["serialised", "serialised"]),
        ("two-at-a-time", "partial", ["concurrent", "limited"]),
        ("broken-sleep", "no", ["failed", "failed"]),
    ],
)
def test_outcome_follows_how_the_server_really_behaves(
    tiny_server, tmp_path: Path, mode: str, outcome: str, classes: list[str]
) -> None:
    base_url, process = tiny_server(mode)
    result = run_check(SYNC_CHECK, _context(base_url, process, tmp_path))
    assert result["outcome"] == outcome, result["summary"]
    batches = result["evidence"]["batches"]
    assert [batch["classification"] for batch in batches] == classes
    assert [batch["n"] for batch in batches] == [2, 10]
    for batch in batches:
        (repeat,) = batch["repeats"]
        assert len(repeat["requests"]) == batch["n"]  # every request's timing is kept


def test_a_check_against_a_dead_server_is_an_error_not_a_no(tiny_server, tmp_path: Path) -> None:
    base_url, process = tiny_server("threaded")
    process.kill()
    result = run_check(SYNC_CHECK, _context(base_url, process, tmp_path))
    assert result["outcome"] == "error"
    assert "exited" in result["summary"]


def test_thresholds() -> None:
    assert classify(2, 1.02, failures=0) == "concurrent"
    assert classify(2, 2.01, failures=0) == "serialised"
    assert classify(10, 2.0, failures=0) == "limited"
    assert classify(10, 1.0, failures=1) == "failed"
    assert judge([{"classification": "concurrent"}, {"classification": "limited"}]) == "partial"
    assert judge([{"classification": "limited"}, {"classification": "serialised"}]) == "partial"
