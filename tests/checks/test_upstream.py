"""The Slow upstream checks against a synthetic aggregator whose "parallel" views really run in
parallel, only pretend to, fail, or skip the delays; and without an upstream service."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import pytest

from harness.checks import CheckContext, run_check
from harness.checks.upstream import CHECKS, classify, judge, last_exception_line
from harness.definitions import ServerDefinition
from harness.endpoints import load_endpoints
from harness.environments import Environment
from harness.launcher import Instance, Launcher
from harness.network import make_tls_material
from harness.profiles import PROFILES
from harness.upstream import UpstreamService
from tests import synthetic

APP = Path(__file__).parents[1] / "apps" / "upstream_aggregator.py"
CHECK = {check.id: check for check in CHECKS}
PROFILE = PROFILES["quick"]


def _definition(mode: str) -> ServerDefinition:
    return synthetic.definition(
        f"upstream-{mode}", name=mode, commands={"http": (sys.executable, str(APP), "{port}", mode)}
    )


Start = Callable[[str], CheckContext]


@pytest.fixture
def aggregator(tmp_path: Path) -> Iterator[Start]:
    """Start the synthetic aggregator in a mode, announced as its own upstream service."""
    with ExitStack() as stack:

        def start(mode: str) -> CheckContext:
            definition = _definition(mode)
            launcher = Launcher(
                definition,
                Environment(path=tmp_path / "no-env", python_version="", packages={}),
                tmp_path,
                PROFILE,
                make_tls_material(tmp_path / "tls"),
            )
            shared: Instance = stack.enter_context(launcher.launch("http"))
            launcher.base_env["UPSTREAM_BASE_URL"] = shared.base_url
            upstream = UpstreamService(shared.base_url, shared)
            return CheckContext(definition, load_endpoints(), PROFILE, shared, launcher, upstream)

        yield start


@pytest.mark.parametrize("check_id", ["upstream-threadpool", "upstream-async"])
def test_parallel_calls_are_yes_with_the_sequential_time_beside(
    aggregator: Start, check_id: str
) -> None:
    context = aggregator("parallel")
    result = run_check(CHECK[check_id], context)
    evidence = result["evidence"]
    assert result["outcome"] == "yes", result["summary"]
    assert "vs sequential" in result["summary"]
    assert evidence["summary"]["classification"] == "parallel"
    assert evidence["reference"]["classification"] == "sequential"
    mode = evidence["samples"]
    assert [len(samples) for samples in mode.values()] == [PROFILE.repeats] * 2
    assert context.launcher is not None
    assert evidence["upstream"]["base_url"] == context.launcher.base_env["UPSTREAM_BASE_URL"]


@pytest.mark.parametrize("check_id", ["upstream-threadpool", "upstream-async"])
def test_sequential_calls_that_claim_to_be_parallel_are_no(
    aggregator: Start, check_id: str
) -> None:
    result = run_check(CHECK[check_id], aggregator("fake-parallel"))
    summary = result["evidence"]["summary"]
    assert result["outcome"] == "no", result["summary"]
    assert summary["classification"] == "sequential"
    # The view's own (false) elapsed_ms is kept, but the client-side time decides.
    assert summary["median_elapsed_ms"] == 600.0
    assert summary["median_client_ms"] > 1000


def test_an_async_view_that_answers_500_is_no_with_the_reason(aggregator: Start) -> None:
    result = run_check(CHECK["upstream-async"], aggregator("async-fails"))
    assert result["outcome"] == "no", result["summary"]
    assert "HTTP 500" in result["summary"]
    assert "You cannot use AsyncToSync" in result["summary"]
    assert "sequential" in result["summary"]
    (sample,) = result["evidence"]["samples"]["async"]
    assert sample["status"] == 500
    assert "Server Error" in sample["body_excerpt"]


def test_views_faster_than_the_longest_delay_are_an_error(aggregator: Start) -> None:
    result = run_check(CHECK["upstream-threadpool"], aggregator("too-fast"))
    assert result["outcome"] == "error", result["summary"]
    assert "faster than the longest upstream call" in result["summary"]


def test_without_an_upstream_service_the_check_is_an_error_with_the_reason(
    aggregator: Start,
) -> None:
    context = aggregator("parallel")
    failed = UpstreamService(None, problem="did not start: exited with code 1")
    result = run_check(CHECK["upstream-async"], replace(context, upstream=failed))
    assert result["outcome"] == "error"
    assert (
        result["summary"] == "Not measured: the upstream service did not start: exited with code 1."
    )
    assert "samples" not in result["evidence"]  # nothing was measured


def test_a_server_not_given_the_upstream_url_is_an_error(aggregator: Start) -> None:
    context = aggregator("parallel")
    assert context.launcher is not None
    context.launcher.base_env.clear()
    result = run_check(CHECK["upstream-threadpool"], context)
    assert result["outcome"] == "error"
    assert "UPSTREAM_BASE_URL" in result["summary"]


def test_thresholds() -> None:
    assert classify(620) == "parallel"
    assert classify(840) == "parallel"
    assert classify(900) == "partly parallel"
    assert classify(1060) == "sequential"
    assert classify(100) == "implausible"
    parallel = {"classification": "parallel", "correct": 3, "requests": 3}
    assert judge(parallel) == "yes"
    assert judge({**parallel, "correct": 2}) == "partial"
    assert judge({**parallel, "classification": "partly parallel"}) == "partial"
    assert judge({**parallel, "classification": "failed", "correct": 0}) == "no"


def test_the_reason_is_the_last_exception_of_the_log() -> None:
    log = (
        "Internal Server Error: /orm/async\nTraceback (most recent call last):\n"
        '  File "x.py", line 1\n    raise error\n'
        "django.core.exceptions.SynchronousOnlyOperation: You cannot call this from an async "
        "context - use a thread or sync_to_async.\nsome later line\n"
    )
    assert last_exception_line(log) == (
        "SynchronousOnlyOperation: You cannot call this from an async context - use a thread "
        "or sync_to_async."
    )
    assert last_exception_line("no traceback here\n") is None
