"""The concurrency checks tell a concurrent server from a serial or limited one (and failures)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness.checks import CheckContext, run_check
from harness.checks.concurrency import CHECKS, batch_sizes, classify, judge, ordinal
from harness.definitions import Production
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


def _sized(serves: str, workers: int = 1, threads: int | None = None):
    production = Production(workers_plus=workers, serves=serves, threads=threads)
    return synthetic.definition("tiny-sized", production=production)


def test_a_declared_capacity_is_loaded_one_request_beyond(tiny_server, tmp_path: Path) -> None:
    """One worker of two threads, declared: the second batch is three requests, and the verdict
    names the capacity and what the third request met."""
    base_url, process = tiny_server("two-at-a-time")
    context = replace(_context(base_url, process, tmp_path), server=_sized("threads", threads=2))
    result = run_check(SYNC_CHECK, context)
    batches = result["evidence"]["batches"]
    assert [batch["n"] for batch in batches] == [2, 3]
    assert [batch["classification"] for batch in batches] == ["concurrent", "limited"]
    assert result["outcome"] == "partial"
    assert "1 worker x 2 threads = 2; the 3rd request waited" in result["summary"]
    assert result["evidence"]["capacity"] == 2


def test_a_declared_capacity_that_is_not_reached_is_named(tiny_server, tmp_path: Path) -> None:
    """Declared as 4 threads, but only two requests run at once: the verdict does not claim
    that the 5th request was the first to wait."""
    base_url, process = tiny_server("two-at-a-time")
    context = replace(_context(base_url, process, tmp_path), server=_sized("threads", threads=4))
    result = run_check(SYNC_CHECK, context)
    assert [batch["n"] for batch in result["evidence"]["batches"]] == [2, 5]
    assert result["outcome"] == "partial"
    assert "only 2 of the 5 requests were answered at once, fewer than the 4" in result["summary"]
    assert "the 5th request waited" not in result["summary"]


def test_a_server_doing_more_than_it_declares_is_concurrent(tiny_server, tmp_path: Path) -> None:
    base_url, process = tiny_server("threaded")
    context = replace(_context(base_url, process, tmp_path), server=_sized("one-at-a-time", 3))
    result = run_check(SYNC_CHECK, context)
    assert [batch["n"] for batch in result["evidence"]["batches"]] == [2, 4]
    assert result["outcome"] == "yes"
    assert "3 workers, one request each = 3; even the 4th request ran at once" in result["summary"]


def test_batch_sizes_and_ordinals() -> None:
    assert batch_sizes(None) == (2, 10)
    assert batch_sizes(1) == (2,)
    assert batch_sizes(24) == (2, 25)
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 25, 111)] == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "22nd",
        "25th",
        "111th",
    ]
