"""The Django async checks against a synthetic server whose async views answer correctly,
answer the wrong JSON, fail when two requests are in flight, or return the wrong rows."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from harness.checks import CheckContext, run_check
from harness.checks.django_async import CHECKS, row_differences
from harness.endpoints import load_endpoints
from harness.environments import Environment
from harness.launcher import Launcher
from harness.network import make_tls_material
from harness.profiles import PROFILES
from tests import synthetic

APP = Path(__file__).parents[1] / "apps" / "async_views.py"
CHECK = {check.id: check for check in CHECKS}

Start = Callable[[str], CheckContext]


@pytest.fixture
def async_app(tmp_path: Path) -> Iterator[Start]:
    """Start the synthetic async views in a mode, the way the harness starts servers."""
    with ExitStack() as stack:

        def start(mode: str) -> CheckContext:
            definition = synthetic.definition(
                f"async-{mode}",
                name=mode,
                commands={"http": (sys.executable, str(APP), "{port}", mode)},
            )
            launcher = Launcher(
                definition,
                Environment(path=tmp_path / "no-env", python_version="", packages={}),
                tmp_path,
                PROFILES["quick"],
                make_tls_material(tmp_path / "tls"),
            )
            shared = stack.enter_context(launcher.launch("http"))
            return CheckContext(definition, load_endpoints(), PROFILES["quick"], shared, launcher)

        yield start


def test_correct_async_views_are_yes(async_app: Start) -> None:
    context = async_app("correct")
    for check in CHECKS:
        result = run_check(check, context)
        assert result["outcome"] == "yes", result["summary"]
        assert len(result["evidence"]["single"]) == 3
        assert [len(round_) for round_ in result["evidence"]["concurrent_rounds"]] == [2, 2, 2]
    assert "3 questions and 6 choices" in result["summary"]


def test_an_async_view_with_the_wrong_json_is_no(async_app: Start) -> None:
    result = run_check(CHECK["async-view"], async_app("wrong-json"))
    assert result["outcome"] == "no", result["summary"]
    assert "not the expected JSON" in result["summary"]
    assert '"view": "sync"' in result["evidence"]["single"][0]["body_excerpt"]


def test_async_views_that_fail_when_two_are_in_flight_are_partial(async_app: Start) -> None:
    context = async_app("concurrent-fails")
    for check in CHECKS:
        result = run_check(check, context)
        assert result["outcome"] == "partial", result["summary"]
        assert "concurrent ones fail" in result["summary"]
        assert "3 of 6 concurrent requests: HTTP 500" in result["summary"]
        assert "AsyncToSync" in result["summary"]


def test_an_async_orm_view_with_a_missing_row_is_no(async_app: Start) -> None:
    result = run_check(CHECK["orm-async"], async_app("orm-wrong-rows"))
    assert result["outcome"] == "no", result["summary"]
    assert "rows differ from the sync view" in result["summary"]
    first = result["evidence"]["single"][0]
    assert first["differences"] == {"missing_ids": [3]}
    assert first["rows"] == {"total": 3, "questions": 2, "choices": 4}


def test_nothing_to_compare_is_an_error(async_app: Start) -> None:
    result = run_check(CHECK["orm-async"], async_app("empty-db"))
    assert result["outcome"] == "error", result["summary"]
    assert "load_polls" in result["summary"]


def test_row_differences() -> None:
    question = {"id": 1, "choices": [{"id": 1, "votes": 0}]}
    reference = {"total": 2, "questions": [question, {"id": 2, "choices": []}]}
    assert row_differences(reference, reference) == {}
    changed = {"total": 2, "questions": [{**question, "choices": []}, {"id": 2, "choices": []}]}
    assert row_differences(reference, changed) == {"changed_ids": [1]}
    reordered = {"total": 2, "questions": list(reversed(reference["questions"]))}
    assert row_differences(reference, reordered) == {"order": "same questions in another order"}
    extra = {"total": 3, "questions": [*reference["questions"], {"id": 9, "choices": []}]}
    assert row_differences(reference, extra) == {
        "extra_ids": [9],
        "total": {"expected": 2, "got": 3},
    }
