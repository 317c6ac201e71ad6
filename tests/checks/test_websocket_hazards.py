"""The websocket-conformance and websocket-limits checks against a tiny WebSocket server.

The conformance check runs Autobahn's cases (kosoku) against a tiny WebSocket
server: a correct echo passes, one that answers text with binary frames fails, and a WSGI
server is not applicable; its summary of kosoku's report is checked on hand-made reports."""

from __future__ import annotations

import dataclasses

import pytest

from harness.checks import run_check
from harness.checks.hazards import websocket_conformance, websocket_limits
from tests.checks.conftest import TINY_WS

(CHECK,) = websocket_conformance.CHECKS
(LIMITS,) = websocket_limits.CHECKS
ASGI = TINY_WS
WSGI = dataclasses.replace(ASGI, id="tiny-wsgi", interface="wsgi")


def test_an_echo_that_changes_the_frame_type_fails_cases_a_correct_echo_passes(
    ws_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three case groups (framing, pings, closing) instead of all 247 cases: the same judgement,
    # a tenth of the time.
    monkeypatch.setattr(websocket_conformance, "INCLUDED", ("1.*", "2.*", "7.*"))
    correct = run_check(CHECK, ws_server("echo"))
    wrong = run_check(CHECK, ws_server("binary"))
    assert set(correct["evidence"]["by_group"]) == {"1", "2", "7"}
    assert "1.1.1" not in correct["evidence"]["failed"]
    # websockets answers a close inside a fragmented message with 1002, which Autobahn's 7.1.5
    # fails; whatever the library does there, changing every text echo to binary fails more.
    assert wrong["outcome"] == "no", wrong["summary"]
    assert "1.1.1" in wrong["evidence"]["failed"]
    assert len(wrong["evidence"]["failed"]) > len(correct["evidence"]["failed"])
    assert "Autobahn cases failed" in wrong["summary"]


def test_a_wsgi_server_is_not_applicable(ws_server) -> None:
    result = run_check(CHECK, ws_server("refuse", WSGI))
    assert result["outcome"] == "not-applicable"


def _report(behaviours: dict[str, tuple[str, str]]) -> dict:
    return {
        "agent": {
            case: {"behavior": behavior, "behaviorClose": close}
            for case, (behavior, close) in behaviours.items()
        }
    }


def test_counts_are_kept_per_case_group_and_failures_listed_in_case_order() -> None:
    summary = websocket_conformance.summarize(
        _report(
            {
                "10.1.1": ("OK", "OK"),
                "2.1": ("OK", "OK"),
                "7.1.5": ("FAILED", "WRONG CODE"),
                "3.2": ("NON-STRICT", "OK"),
                "1.1.10": ("FAILED", "OK"),
                "1.1.2": ("OK", "OK"),
            }
        )
    )
    assert summary["by_group"] == {
        "1": {"OK": 1, "FAILED": 1},
        "2": {"OK": 1},
        "3": {"NON-STRICT": 1},
        "7": {"FAILED": 1},
        "10": {"OK": 1},
    }
    assert summary["failed"] == ["1.1.10", "7.1.5"]
    assert summary["close_problems"] == ["7.1.5: WRONG CODE"]
    assert websocket_conformance.judge(summary)[0] == "no"


@pytest.mark.parametrize(
    ("behaviours", "outcome"),
    [
        ({"1.1.1": ("OK", "OK"), "2.1": ("INFORMATIONAL", "INFORMATIONAL")}, "yes"),
        ({"1.1.1": ("OK", "OK"), "3.2": ("NON-STRICT", "OK")}, "partial"),
        ({"1.1.1": ("OK", "UNCLEAN")}, "partial"),
        ({"1.1.1": ("UNIMPLEMENTED", "OK")}, "no"),
    ],
)
def test_the_outcome_follows_the_worst_behaviour(behaviours, outcome) -> None:
    summary = websocket_conformance.summarize(_report(behaviours))
    assert websocket_conformance.judge(summary)[0] == outcome


# --- websocket-limits (same tiny server) ------------------------------------------------------


@pytest.fixture
def short_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Watch an idle connection for 3 s instead of 25 (the bounded mode pings every second)."""
    monkeypatch.setattr(websocket_limits, "IDLE_WATCH_S", 3.0)


def test_a_server_without_a_message_limit_is_no(ws_server, short_idle) -> None:
    result = run_check(LIMITS, ws_server("unlimited"))
    assert result["outcome"] == "no", result["summary"]
    assert result["evidence"]["huge"]["echoed"] is True
    assert "sent no ping" in result["summary"]


def test_a_server_that_closes_huge_messages_with_1009_and_pings_is_yes(
    ws_server, short_idle
) -> None:
    result = run_check(LIMITS, ws_server("bounded"))
    assert result["outcome"] == "yes", result["summary"]
    assert result["evidence"]["huge"]["close_code"] == 1009
    assert len(result["evidence"]["idle"]["pings_at_s"]) >= 2
    assert "pinged an idle connection every" in result["summary"]


def test_a_limit_below_two_mebibytes_is_partial(ws_server, short_idle) -> None:
    # websockets' default limit is 1 MiB.
    result = run_check(LIMITS, ws_server("echo"))
    assert result["outcome"] == "partial", result["summary"]
    assert "also refuses a 2 MiB message" in result["summary"]


def test_websocket_limits_are_not_applicable_to_wsgi(ws_server) -> None:
    assert run_check(LIMITS, ws_server("refuse", WSGI))["outcome"] == "not-applicable"
