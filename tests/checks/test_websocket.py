"""The websocket check against a synthetic WebSocket server that echoes, reorders, drops,
answers binary, closes at once or refuses the upgrade."""

from __future__ import annotations

import dataclasses
import json

from harness.checks import run_check
from harness.checks import websocket as websocket_check
from tests.checks.conftest import TINY_WS

(CHECK,) = websocket_check.CHECKS
ASGI = TINY_WS
WSGI = dataclasses.replace(ASGI, id="tiny-wsgi", interface="wsgi")


def test_an_echo_in_order_is_yes_with_round_trips(ws_server) -> None:
    result = run_check(CHECK, ws_server("echo"))
    assert result["outcome"] == "yes", result["summary"]
    evidence = result["evidence"]
    assert evidence["handshake"]["status"] == 101
    assert [item["message"] for item in evidence["received"]] == [
        item["message"] for item in evidence["sent"]
    ]
    assert len(evidence["round_trips_s"]) == 3
    json.dumps(evidence, allow_nan=False)


def test_echoes_out_of_order_are_no(ws_server) -> None:
    result = run_check(CHECK, ws_server("reorder"))
    assert result["outcome"] == "no"
    assert "out of order" in result["summary"]
    assert "order: 3, 2, 1" in result["summary"]


def test_a_lost_message_is_no_after_a_bounded_wait(ws_server, monkeypatch) -> None:
    monkeypatch.setattr(websocket_check, "RECEIVE_TIMEOUT_S", 1.0)
    result = run_check(CHECK, ws_server("drop"))
    assert result["outcome"] == "no"
    assert "got 2 of 3" in result["summary"]
    assert "no further message" in result["evidence"]["problem"]


def test_text_echoed_as_binary_is_no(ws_server) -> None:
    result = run_check(CHECK, ws_server("binary"))
    assert result["outcome"] == "no"
    assert "binary frame" in result["evidence"]["received"][0]["message"]
    json.dumps(result["evidence"], allow_nan=False)


def test_a_server_that_closes_at_once_is_no(ws_server) -> None:
    result = run_check(CHECK, ws_server("close"))
    assert result["outcome"] == "no"
    assert result["evidence"]["received"] == []


def test_a_refused_upgrade_under_wsgi_says_wsgi_cannot_carry_websockets(ws_server) -> None:
    result = run_check(CHECK, ws_server("refuse", WSGI))
    assert result["outcome"] == "no"
    assert result["summary"].startswith("WSGI cannot carry WebSockets: the upgrade request got 404")
    assert result["evidence"]["refusal"]["status"] == 404
    assert result["evidence"]["instance"]["kind"] == "http"


def test_a_refused_upgrade_under_asgi_names_the_status(ws_server) -> None:
    result = run_check(CHECK, ws_server("refuse"))
    assert result["outcome"] == "no"
    assert "refused with 404" in result["summary"]
