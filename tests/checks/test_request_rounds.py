"""The request rounds of the database-connections check, against a real tiny server on
127.0.0.1 that closes every kept-alive connection at its second request without answering it:
a round that resends unanswered requests gets every one answered, one that does not loses
them; a status other than 2xx is the server's answer and is never resent in that mode. Then
the check's rule reads such rounds: resent-and-answered is reported, not failed."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from harness.checks.operations.database_connections import failed_for_good, judge_setup
from harness.checks.operations.request_rounds import (
    RETRY_NEVER,
    RETRY_UNANSWERED,
    send_round,
)


class _ClosesAtSecondRequest(socketserver.BaseRequestHandler):
    """Answers a connection's first request (keep-alive, 200, or 503 for /busy), then closes
    the connection when its second request arrives, without a word."""

    def handle(self) -> None:
        reader = self.request.makefile("rb")
        for number in (1, 2):
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = reader.readline()
                if not line:
                    return
                head += line
            if number == 2:
                self.request.shutdown(socket.SHUT_RDWR)
                return
            status = b"503 Service Unavailable" if b" /busy " in head else b"200 OK"
            self.request.sendall(
                b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"
            )


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _ClosesAtSecondRequest)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_unanswered_requests_resent_at_once_are_all_answered(server: str) -> None:
    round_ = send_round(server + "/", 10, 1, timeout_s=5, limit_s=30, retry=RETRY_UNANSWERED)
    # Every request after the first met a closed connection, and its resend (on a new
    # connection, the first request there) was answered.
    assert round_.statuses == {"200": 1}
    assert sum(round_.errors.values()) == 9
    assert round_.retried == {"200": 9} and round_.failed_again == 0
    assert failed_for_good(round_.as_record()) == 0


def test_without_resending_the_unanswered_requests_are_lost(server: str) -> None:
    round_ = send_round(server + "/", 10, 1, timeout_s=5, limit_s=30, retry=RETRY_NEVER)
    assert sum(round_.errors.values()) >= 1 and not round_.retried
    assert failed_for_good(round_.as_record()) == sum(round_.errors.values())


def test_a_status_is_an_answer_and_is_not_resent(server: str) -> None:
    round_ = send_round(server + "/busy", 4, 1, timeout_s=5, limit_s=30, retry=RETRY_UNANSWERED)
    assert round_.statuses["503"] >= 1
    assert all(outcome == "503" for outcome in round_.retried)  # only unanswered ones resent
    assert failed_for_good(round_.as_record()) == round_.statuses["503"] + round_.failed_again


def _record(load: dict[str, Any]) -> dict[str, Any]:
    quiet = {"statuses": {"200": 100}, "errors": {}, "retried": {}, "failed_again": 0}
    return {
        "bound": 10,
        "bound_rule": "1 worker x a pool of 10",
        "peak_connections": 10,
        "left_after_load": 10,
        "left_per_100_requests": 1.0,
        "server_alive": True,
        "load": {"requests": 1000, "unsent": 0, **load},
        "take_up": {"requests": 100, "unsent": 0, **quiet},
        "after_idle": {"requests": 100, "failed": 0, "failed_again": 0},
        "ended_by_timeout": 0,
        "failures_before_idle": "RemoteProtocolError x 12",
        "failures_after_idle": "",
        "server_exceptions": {},
    }


@pytest.mark.parametrize(
    ("retried", "outcome"),
    [({"200": 12}, "yes"), ({"200": 11, "RemoteProtocolError": 1}, "no")],
)
def test_a_closed_connection_whose_request_was_answered_when_resent_is_not_a_failure(
    retried: dict[str, int], outcome: str
) -> None:
    load = {
        "statuses": {"200": 988},
        "errors": {"RemoteProtocolError": 12},
        "retried": retried,
        "failed_again": 12 - retried.get("200", 0),
    }
    judged, summary = judge_setup(_record(load))
    assert judged == outcome, summary
    if outcome == "yes":
        assert "12 requests got no answer on a kept-alive connection" in summary
