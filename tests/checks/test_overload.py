"""The overload check tells a server that lets its queue grow from one that refuses the excess
or bounds the wait (tests/apps/overload_server.py, synthetic: one worker, a fixed service
time, and a stated policy for the excess), and one that never comes back (the hazard server's
wedge mode); its load generator accounts for every request it was asked to send."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from evidence.layout import REPO_ROOT
from evidence.schema import schema_errors
from harness.checks import CheckContext, run_check
from harness.checks.hazards import overload, overload_verdict
from harness.endpoints import load_endpoints
from harness.environments import Environment
from harness.launcher import Launcher
from harness.network import make_tls_material
from harness.profiles import PROFILES
from tests import synthetic

APPS = Path(__file__).parents[1] / "apps"
PROFILE = PROFILES["quick"]
(OVERLOAD,) = overload.CHECKS
METHODOLOGY = REPO_ROOT / "generators" / "templates" / "methodology.md.j2"
# The capture's settings, read before a test shortens them.
CAPTURE_SETTINGS = {
    name: getattr(overload, name)
    for name in (
        "CLOSED_CONNECTIONS",
        "WARMUP_S",
        "MAX_RATE_WINDOW_S",
        "OVERLOAD_WINDOW_S",
        "CONNECTION_BOUND",
        "CLIENT_TIMEOUT_S",
        "RECOVERY_LIMIT_S",
    )
}


@pytest.fixture(autouse=True)
def short_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seconds instead of the capture's windows; the rule is unchanged. A synthetic server
    treats every second of a load alike, so a 3 s load shows what a 15 s one would: the
    queueing one's answered requests wait about half the window at 2x (1.5 s, over the 1 s
    bound), the others never more than their own bound (0.2 s)."""
    monkeypatch.setattr(overload, "WARMUP_S", 0.5)
    monkeypatch.setattr(overload, "MAX_RATE_WINDOW_S", 1.0)
    monkeypatch.setattr(overload, "OVERLOAD_WINDOW_S", 3.0)
    monkeypatch.setattr(overload, "RECOVERY_LIMIT_S", 3.0)


@contextmanager
def started(app: str, mode: str, scratch: Path) -> Iterator[CheckContext]:
    """A CheckContext around ``tests/apps/<app>`` in ``mode``, started by the harness's Launcher."""
    server = synthetic.definition(
        f"{Path(app).stem}-{mode}",
        name=f"{app} ({mode})",
        commands={"http": ("{python}", str(APPS / app), "{port}", mode)},
    )
    environment = Environment(Path(sys.prefix), "synthetic", {})
    launcher = Launcher(server, environment, scratch, PROFILE, make_tls_material(scratch / "tls"))
    with launcher.launch("http") as shared:
        yield CheckContext(server, load_endpoints(), PROFILE, shared, launcher)


def run_on(tmp_path: Path, app: str, mode: str) -> dict[str, Any]:
    """The check's result, whose evidence has been checked against its schema."""
    with started(app, mode, tmp_path / mode) as context:
        result = run_check(OVERLOAD, context)
    document = synthetic.run("overload-test")
    document["checks"][0] |= {"id": "overload", "evidence": result["evidence"]}
    problems = [line for line in schema_errors(document, "run") if "/evidence" in line]
    assert problems == [], problems
    return result


def loads(result: dict[str, Any]) -> list[dict[str, Any]]:
    return result["evidence"]["overloads"]


def assert_every_request_accounted_for(phase: dict[str, Any]) -> None:
    """Each request due in the window ended one way, and only one."""
    ended = (
        phase["answered"]
        + sum(phase["statuses"].values())
        + sum(phase[way] for way in ("refused", "reset", "closed", "connect_error"))
        + sum(phase["timed_out"].values())
        + sum(phase["outstanding"].values())
    )
    assert ended == phase["due"], phase
    assert len(phase["timeline"]) == phase["window_s"], phase["timeline"]


def test_a_server_that_queues_every_request_is_no(tmp_path: Path) -> None:
    result = run_on(tmp_path, "overload_server.py", "queue")
    assert result["outcome"] == "no", result["summary"]
    first = loads(result)[0]
    assert (first["factor"], first["state"], first["reason"]) == (
        2,
        "swamped",
        "an unbounded queue",
    )
    phase = first["phase"]
    assert phase["statuses"] == {} and phase["refused"] == phase["closed"] == 0
    # The queue grew through the window: more outstanding at its end than after its first second.
    assert phase["timeline"][-1]["outstanding"] > phase["timeline"][0]["outstanding"] > 0
    assert_every_request_accounted_for(phase)
    assert result["summary"].startswith("An unbounded queue at 2x"), result["summary"]
    assert "Judged against its maximum rate" in result["summary"]
    assert "At 2x (" in result["summary"]


def test_a_server_that_answers_503_beyond_a_bound_is_yes(tmp_path: Path) -> None:
    result = run_on(tmp_path, "overload_server.py", "shed")
    assert result["outcome"] == "yes", result["summary"]
    assert [load["factor"] for load in loads(result)] == [2, 10]
    for load in loads(result):
        assert load["state"] == "held", load["reason"]
        assert load["phase"]["statuses"]["503"] > 0
        assert load["recovery"]["recovered_after_s"] is not None
        assert_every_request_accounted_for(load["phase"])
    assert "HTTP 503" in result["summary"] and "At 10x (" in result["summary"]


def test_a_server_that_bounds_the_wait_by_dropping_late_requests_is_yes(tmp_path: Path) -> None:
    result = run_on(tmp_path, "overload_server.py", "deadline")
    assert result["outcome"] == "yes", result["summary"]
    for load in loads(result):
        assert load["state"] == "held", load["reason"]
        assert load["phase"]["closed"] > 0 and load["phase"]["statuses"] == {}
        assert_every_request_accounted_for(load["phase"])


def test_a_server_that_wedges_under_load_is_no(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It stops answering for good above 100 open connections: the requests it took are
    given up at the client's timeout (1 s here), and the 10x load is not sent."""
    monkeypatch.setattr(overload, "CLIENT_TIMEOUT_S", 1.0)
    result = run_on(tmp_path, "hazard_server.py", "wedge")
    assert result["outcome"] == "no", result["summary"]
    assert result["summary"].startswith("An unbounded queue"), result["summary"]
    assert "not back to normal within 3 s after the 2x load" in result["summary"]
    assert "The 10x load was not sent" in result["summary"]
    (only,) = loads(result)
    assert only["phase"]["timed_out"]["sent"] > 0
    assert only["recovery"]["recovered_after_s"] is None
    assert result["evidence"]["max_rate"]["answered_per_s"] > 0
    assert_every_request_accounted_for(only["phase"])


# --- the rule, on figures ----------------------------------------------------------------------


def phase_of(**figures: Any) -> dict[str, Any]:
    """A generator result with 1000 requests due at 100/s over 10 s; ``figures`` override."""
    phase = {
        "due": 1000,
        "rate_per_s": 100.0,
        "window_s": 10.0,
        "timeout_s": 5.0,
        "answered": 1000,
        "answered_per_s": 100.0,
        "latency_ms": {"p50": 20.0, "p99": 80.0, "max": 90.0},
        "statuses": {},
        "refused": 0,
        "reset": 0,
        "closed": 0,
        "connect_error": 0,
        "timed_out": {"waiting": 0, "connecting": 0, "sent": 0},
        "outstanding": {"waiting": 0, "connecting": 0, "sent": 2},
    }
    return phase | figures


def test_fast_answers_while_other_requests_starve_are_strained() -> None:
    phase = phase_of(timed_out={"waiting": 0, "connecting": 0, "sent": 300})
    state, reason = overload_verdict.judge_phase(phase, max_rate=100.0)
    assert state == "strained" and reason.startswith("fast answers while"), reason


def test_answering_a_few_while_the_rest_pile_up_is_swamped() -> None:
    phase = phase_of(
        answered=50,
        answered_per_s=5.0,
        outstanding={"waiting": 700, "connecting": 0, "sent": 250},
    )
    state, reason = overload_verdict.judge_phase(phase, max_rate=100.0)
    assert state == "swamped" and "5% of the maximum rate answered" in reason, reason


def test_refusing_nearly_everything_is_strained_not_held() -> None:
    phase = phase_of(answered=100, answered_per_s=10.0, statuses={"503": 900})
    state, reason = overload_verdict.judge_phase(phase, max_rate=100.0)
    assert state == "strained" and "only 10% of the maximum rate answered" in reason, reason


def test_a_slow_queue_that_stops_growing_is_strained() -> None:
    phase = phase_of(latency_ms={"p50": 2500.0, "p99": 3000.0, "max": 3100.0})
    state, reason = overload_verdict.judge_phase(phase, max_rate=100.0)
    assert state == "strained" and reason.startswith("a slow queue"), reason


def test_a_held_load_followed_by_a_slow_recovery_is_partial() -> None:
    held = {"factor": 2, "state": "held", "reason": "bounded", "phase": phase_of()}
    late = held | {"recovery": {"recovered_after_s": 7.5, "limit_s": 10.0}}
    quick = held | {"factor": 10, "recovery": {"recovered_after_s": 0.1, "limit_s": 10.0}}
    outcome, lead = overload_verdict.judge([late, quick], alive=True)
    assert outcome == "partial" and "7.5 s after the 2x load" in lead, lead


def test_the_methodology_page_states_the_check_s_settings() -> None:
    text = " ".join(METHODOLOGY.read_text(encoding="utf-8").split())
    settings = CAPTURE_SETTINGS
    for phrase in (
        f"max({settings['CLOSED_CONNECTIONS']}, 2 x capacity) connections",
        f"{settings['MAX_RATE_WINDOW_S']:g} s after {settings['WARMUP_S']:g} s of warm-up",
        f"for {settings['OVERLOAD_WINDOW_S']:g} s each",
        f"from at most {settings['CONNECTION_BOUND']:,} connections",
        f"answered {settings['CLIENT_TIMEOUT_S']:g} s after it was due",
        f"for up to {settings['RECOVERY_LIMIT_S']:g} s",
        f"p99 stays within {overload_verdict.LATENCY_BOUND_S:g} s",
        f"within {overload_verdict.RECOVERED_WITHIN_S:g} s of each",
    ):
        assert phrase in text, phrase
