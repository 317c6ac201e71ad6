"""The Production hazards checks tell a server that smuggles, buffers, trusts and waits from
one that rejects, streams, ignores and drops (tests/apps/hazard_server.py, synthetic); and the
raw HTTP client splits what comes back, and the smuggling check classifies it, as they say."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.checks import CheckContext, run_check
from harness.checks.hazards import (
    body_limit,
    forwarded_headers,
    head_request,
    header_limits,
    keepalive_idle,
    raw_http,
    request_bodies,
    root_path,
    slow_client,
    smuggling,
)
from harness.checks.hazards.raw_http import Exchange, Response, parse_responses
from harness.checks.hazards.smuggling_corpus import CASES
from harness.definitions import Production
from harness.endpoints import load_endpoints
from harness.environments import Environment
from harness.launcher import Launcher
from harness.network import make_tls_material
from tests.checks.hazard_servers import PROFILE, started, tiny_definition

(SMUGGLING,) = smuggling.CHECKS
(HEADER_LIMITS,) = header_limits.CHECKS
(BODY_LIMIT,) = body_limit.CHECKS
EXPECT_CONTINUE, CHUNKED_BODY = request_bodies.CHECKS
(HEAD_REQUEST,) = head_request.CHECKS
(FORWARDED,) = forwarded_headers.CHECKS
(KEEPALIVE_IDLE,) = keepalive_idle.CHECKS
(ROOT_PATH,) = root_path.CHECKS
(SLOW_CLIENT,) = slow_client.CHECKS
CASE = {case.id: case for case in CASES}


def run_on_hazard_server(tmp_path: Path, mode: str, check, mount: str = "") -> dict[str, Any]:
    with started(mode, tmp_path / mode, mount) as context:
        return run_check(check, context)


def assert_judged(result: dict[str, Any], outcome: str, *words: str) -> None:
    assert result["outcome"] == outcome, result["summary"]
    for word in words:
        assert word in result["summary"], result["summary"]


# --- request smuggling -----------------------------------------------------------------------


def test_a_server_that_reads_the_first_content_length_smuggles_a_request(tmp_path: Path) -> None:
    result = run_on_hazard_server(tmp_path, "naive", SMUGGLING)
    assert_judged(result, "no", "Desync", "two-content-lengths", "te-and-short-cl")
    classes = {case["id"]: case["class"] for case in result["evidence"]["cases"]}
    assert classes["two-content-lengths"] == smuggling.SMUGGLED  # Content-Length: 0 came first
    assert classes["te-and-short-cl"] == smuggling.SMUGGLED  # the chunk was the next request
    assert classes["content-length-plus"] == smuggling.LENIENT  # int("+5") is 5
    assert classes["content-length-underscore"] == smuggling.LENIENT  # int("1_0") is 10
    assert classes["cl-and-te"] == smuggling.MISREAD  # Content-Length won over chunked
    severities = {case["id"]: case["severity"] for case in result["evidence"]["cases"]}
    assert severities["cl-and-te"] == severities["two-content-lengths"] == "desync"


def test_a_strict_server_passes_every_smuggling_input(tmp_path: Path) -> None:
    result = run_on_hazard_server(tmp_path, "strict", SMUGGLING)
    assert_judged(result, "yes", "Every input was rejected or read as the RFC says")
    classes = {case["id"]: case["class"] for case in result["evidence"]["cases"]}
    assert classes.pop("uppercase-chunked") == smuggling.ACCEPTED
    assert set(classes.values()) == {smuggling.REJECTED}
    statuses = {case["id"]: case["responses"][0]["status"] for case in result["evidence"]["cases"]}
    assert statuses["bare-lf"] == statuses["obs-fold"] == statuses["missing-host"] == 400


# --- header limits ---------------------------------------------------------------------------


def test_a_server_without_a_header_bound_lets_a_megabyte_of_headers_reach_django(
    tmp_path: Path,
) -> None:
    result = run_on_hazard_server(tmp_path, "naive", HEADER_LIMITS)
    assert_judged(result, "no", "No header bound", "1 MiB of headers reached Django")
    assert all(probe["reached_django"] for probe in result["evidence"]["probes"])


def test_a_server_that_answers_431_bounds_headers(tmp_path: Path) -> None:
    result = run_on_hazard_server(tmp_path, "strict", HEADER_LIMITS)
    assert_judged(result, "yes", "Headers are bounded and a 16 KiB cookie passes")
    assert result["evidence"]["probes"][-1]["status"] == 431
    assert result["evidence"]["probes"][0]["reached_django"]


def test_a_bound_too_tight_for_a_16_kib_cookie_is_partial(tmp_path: Path) -> None:
    result = run_on_hazard_server(tmp_path, "tight", HEADER_LIMITS)
    assert_judged(result, "partial", "so tightly that a 16 KiB cookie is refused")
    assert result["evidence"]["probes"][0]["status"] == 431


def test_a_server_that_closes_on_huge_headers_without_a_status_is_partial(
    tmp_path: Path,
) -> None:
    result = run_on_hazard_server(tmp_path, "closer", HEADER_LIMITS)
    assert_judged(result, "partial", "without an HTTP status")
    assert result["evidence"]["probes"][-1]["status"] is None


# --- body limit ------------------------------------------------------------------------------


@pytest.fixture
def quicker_upload(monkeypatch: pytest.MonkeyPatch) -> int:
    """A 64 MiB upload instead of 256 MiB: still far above the naive server's idle memory."""
    size = 64 * body_limit.MIB
    monkeypatch.setattr(body_limit, "STREAMED_BYTES", size)
    return size


def test_a_server_that_reads_the_whole_body_into_memory_holds_it(
    tmp_path: Path, quicker_upload: int
) -> None:
    result = run_on_hazard_server(tmp_path, "naive", BODY_LIMIT)
    assert_judged(result, "no", "held the body in memory", "not refused up front")
    streamed = result["evidence"]["streamed"]
    assert streamed["sent_bytes"] == quicker_upload
    assert streamed["django_read_bytes"] == quicker_upload


def test_a_server_that_streams_the_body_keeps_its_memory_flat(
    tmp_path: Path, quicker_upload: int
) -> None:
    result = run_on_hazard_server(tmp_path, "strict", BODY_LIMIT)
    assert_judged(result, "yes", "not refused up front", "Django read 64 MiB")
    streamed = result["evidence"]["streamed"]
    assert streamed["django_read_bytes"] == quicker_upload
    assert streamed["memory_growth_bytes"] < body_limit.BUFFERED_FRACTION * quicker_upload


# --- request bodies --------------------------------------------------------------------------


def test_a_server_that_ignores_expect_makes_the_client_wait_but_passes_the_body(
    tmp_path: Path,
) -> None:
    result = run_on_hazard_server(tmp_path, "naive", EXPECT_CONTINUE)
    assert_judged(result, "partial", "Body intact", "no 100 Continue")
    assert result["evidence"]["continue_after_s"] is None


def test_a_server_that_answers_100_continue_gets_the_body_intact(tmp_path: Path) -> None:
    result = run_on_hazard_server(tmp_path, "strict", EXPECT_CONTINUE)
    assert_judged(result, "yes", "100 Continue after", "Django got the body intact")
    statuses = [response["status"] for response in result["evidence"]["responses"]]
    assert statuses == [100, 200]


def test_a_server_that_ignores_transfer_encoding_loses_a_chunked_body(tmp_path: Path) -> None:
    result = run_on_hazard_server(tmp_path, "naive", CHUNKED_BODY)
    assert_judged(result, "no", "Django got 0 of 11 body bytes", "CONTENT_LENGTH")
    # Declared WSGI, the view got no CONTENT_LENGTH: Django's WSGIRequest reads nothing then,
    # whatever the server does with the chunks, so the no is Django's.
    assert result["cause"] == "django"
    assert "LimitedStream" in result["cause_detail"]


def test_a_chunked_body_lost_under_asgi_is_the_server_s(tmp_path: Path) -> None:
    with started("naive", tmp_path / "asgi", interface="asgi") as context:
        result = run_check(CHUNKED_BODY, context)
    assert_judged(result, "no", "Django got 0 of 11 body bytes")
    assert (result["cause"], "cause_detail" in result) == ("server", False)
    assert "CONTENT_LENGTH" not in result["summary"]


def _echo(body_bytes: int, **fields: Any) -> dict[str, Any]:
    return {"echo": True, "body_bytes": body_bytes, "headers": {}, **fields}


@pytest.mark.parametrize(
    ("interface", "echo", "cause"),
    [
        ("wsgi", _echo(0, input_terminated=True, input_left_bytes=11), "django"),
        ("wsgi", _echo(0, input_terminated=None, input_left_bytes=None), "django"),
        ("wsgi", _echo(0), "django"),  # an echo view older than input_terminated
        # A length that hid the body, a part of the body, or no echo at all: the server's.
        ("wsgi", _echo(0, headers={"CONTENT_LENGTH": "0"}), "server"),
        ("wsgi", _echo(5), "server"),
        ("wsgi", None, "server"),
        ("asgi", _echo(0), "server"),
    ],
)
def test_a_chunked_body_is_django_s_to_lose_only_under_wsgi_without_a_length(
    interface: str, echo: dict[str, Any] | None, cause: str
) -> None:
    found, detail = request_bodies.chunked_cause(interface, echo)
    assert found == cause
    assert ("wsgi.input_terminated" in detail) == (cause == "django")


def test_the_summary_says_what_the_server_told_django_about_its_input() -> None:
    left = request_bodies._withheld_phrase(_echo(0, input_terminated=True, input_left_bytes=11))
    assert "left the 11 body bytes in it, unread" in left
    unmarked = request_bodies._withheld_phrase(_echo(0, input_terminated=None))
    assert "did not mark its input terminated" in unmarked


def test_a_server_that_decodes_chunked_bodies_passes_them_intact(tmp_path: Path) -> None:
    result = run_on_hazard_server(tmp_path, "strict", CHUNKED_BODY)
    assert_judged(result, "yes", "chunked body intact")


# --- HEAD ------------------------------------------------------------------------------------


def test_a_server_that_sends_a_body_on_head_is_caught(tmp_path: Path) -> None:
    result = run_on_hazard_server(tmp_path, "naive", HEAD_REQUEST)
    body = json.dumps({"message": "hello", "view": "sync"})
    assert_judged(result, "no", f"carried {len(body)} body bytes")
    assert result["evidence"]["bytes_after_head_headers"] == len(body)


def test_a_server_that_answers_head_with_headers_only_passes(tmp_path: Path) -> None:
    result = run_on_hazard_server(tmp_path, "strict", HEAD_REQUEST)
    assert_judged(result, "yes", "No body", "Content-Length 36 on HEAD, 36 on GET")


# --- forwarded headers -----------------------------------------------------------------------


def test_a_server_that_trusts_forwarded_headers_from_any_peer_is_spoofable(
    tmp_path: Path,
) -> None:
    result = run_on_hazard_server(tmp_path, "naive", FORWARDED)
    assert_judged(result, "no", "Any peer can set REMOTE_ADDR and the scheme")
    seen = result["evidence"]["from_other"]["django_saw"]
    assert seen["remote_addr"] == forwarded_headers.CLAIMED_ADDRESS
    assert seen["is_secure"] is True


def test_a_server_that_ignores_forwarded_headers_shows_the_real_peer(tmp_path: Path) -> None:
    result = run_on_hazard_server(tmp_path, "strict", FORWARDED)
    other = forwarded_headers.OTHER_PEER
    assert_judged(result, "yes", f"From {other} Django saw REMOTE_ADDR {other}, scheme http")


# --- keep-alive idle -------------------------------------------------------------------------


def test_a_server_that_closes_idle_connections_after_a_second_is_partial(
    tmp_path: Path,
) -> None:
    result = run_on_hazard_server(tmp_path, "strict", KEEPALIVE_IDLE)
    assert_judged(result, "partial", "closed the idle connection", "without notice")
    said = re.search(r"after ([\d.]+) s without notice", result["summary"])
    assert said is not None, result["summary"]
    # The server's own idle timeout is 1 s (the check reports it to a tenth of a second).
    assert round(float(said[1])) == 1, result["summary"]
    assert result["evidence"]["connection_header"] is None


def test_a_server_that_announces_connection_close_leaves_no_idle_connection(
    tmp_path: Path,
) -> None:
    result = run_on_hazard_server(tmp_path, "announce-close", KEEPALIVE_IDLE)
    assert_judged(result, "yes", "closes the connection after each response")
    assert result["evidence"]["connection_header"] == "close"


# --- slow clients ----------------------------------------------------------------------------


@pytest.fixture
def shorter_slowloris(monkeypatch: pytest.MonkeyPatch) -> None:
    """Four seconds of trickling instead of fifteen; the ordinary request at 1 s."""
    monkeypatch.setattr(slow_client, "HOLD_S", 4.0)
    monkeypatch.setattr(slow_client, "ORDINARY_AFTER_S", 1.0)
    monkeypatch.setattr(slow_client, "ORDINARY_LIMIT_S", 2.0)


@pytest.mark.usefixtures("shorter_slowloris")
def test_a_single_threaded_server_is_held_by_slow_clients(tmp_path: Path) -> None:
    result = run_on_hazard_server(tmp_path, "naive", SLOW_CLIENT)
    assert_judged(result, "no", "was not answered", "kept all 16 slow clients")
    assert result["evidence"]["ordinary"]["status"] is None


@pytest.mark.usefixtures("shorter_slowloris")
def test_a_server_with_a_header_deadline_drops_slow_clients_and_serves_others(
    tmp_path: Path,
) -> None:
    result = run_on_hazard_server(tmp_path, "strict", SLOW_CLIENT)
    assert_judged(result, "yes", "An ordinary request was answered", "dropped 16 of 16 slow")
    assert result["evidence"]["ordinary"]["status"] == 200


# --- raw_http.parse_responses ----------------------------------------------------------------


def test_two_pipelined_responses_are_split_by_their_content_length() -> None:
    data = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-First: yes\r\n\r\nhello"
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    )
    first, second = parse_responses(data)
    assert (first.status, first.reason, first.body, first.complete) == (200, "OK", b"hello", True)
    assert first.header("x-first") == "yes"
    assert (second.status, second.reason, second.body) == (404, "Not Found", b"")


def test_a_chunked_response_is_decoded_and_what_follows_it_is_the_next_response() -> None:
    data = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        b"HTTP/1.1 204 No Content\r\n\r\n"
    )
    chunked, empty = parse_responses(data)
    assert (chunked.body, chunked.complete) == (b"hello world", True)
    assert (empty.status, empty.body) == (204, b"")
    (cut,) = parse_responses(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
    assert (cut.body, cut.complete) == (b"hel", False)


def test_100_continue_comes_before_the_final_response() -> None:
    data = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n"
        b'{"echo": true}'
    )
    interim, final = parse_responses(data)
    assert (interim.status, interim.body) == (100, b"")
    assert final.status == 200
    assert final.echo == {"echo": True}


def test_a_head_response_has_no_body_whatever_its_content_length_says() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 36\r\n\r\n"
    (only,) = parse_responses(head, head_first=True)
    assert (only.status, only.body, only.complete) == (200, b"", True)
    # Bytes after the HEAD response's headers are not its body: here, a second response.
    follow = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    first, second = parse_responses(b"HTTP/1.1 100 Continue\r\n\r\n" + head + follow, True)[1:]
    assert (first.body, second.body) == (b"", b"ok")
    # Without the flag the same bytes are read as a 36-byte body, swallowing the next response.
    (swallowing,) = parse_responses(head + follow)
    assert swallowing.body == follow[:36]


# --- smuggling.classify ----------------------------------------------------------------------


def echo_response(**facts: Any) -> Response:
    """An answer of the sample project's echo view, as the raw client parses it."""
    document = {"echo": True, "method": "POST", "path": "/echo", "query_string": "", **facts}
    return Response(
        200, "OK", [("Content-Type", "application/json")], json.dumps(document).encode(), True
    )


def exchange_of(*responses: Response, ended: str = "closed") -> Exchange:
    return Exchange(ended=ended, responses=list(responses))


def test_a_second_echo_of_the_hidden_request_is_smuggling() -> None:
    result = exchange_of(
        echo_response(body_bytes=0, body_head=""),
        echo_response(method="GET", query_string="smuggled=1"),
    )
    kind, detail = smuggling.classify(CASE["two-content-lengths"], result)
    assert kind == smuggling.SMUGGLED
    assert "GET /echo?smuggled=1" in detail


def test_an_input_the_rfc_says_to_reject_that_reaches_django_is_lenient() -> None:
    result = exchange_of(echo_response(body_bytes=5, body_head="hello"))
    assert smuggling.classify(CASE["content-length-plus"], result)[0] == smuggling.LENIENT


def test_an_accepted_input_is_judged_by_the_rfc_reading() -> None:
    case = CASE["content-length-list"]
    right = exchange_of(echo_response(body_bytes=5, body_head="hello"))
    wrong = exchange_of(echo_response(body_bytes=0, body_head=""))
    assert smuggling.classify(case, right)[0] == smuggling.ACCEPTED
    assert smuggling.classify(case, wrong)[0] == smuggling.MISREAD


def test_a_chunked_body_withheld_by_wsgi_is_not_held_against_the_server() -> None:
    withheld = echo_response(headers={"HTTP_TRANSFER_ENCODING": "CHUNKED"}, body_bytes=0)
    kind, detail = smuggling.classify(CASE["uppercase-chunked"], exchange_of(withheld))
    assert kind == smuggling.ACCEPTED
    assert "chunked body not passed to Django" in detail


def test_an_error_status_or_a_closed_connection_is_a_rejection() -> None:
    refused = Response(400, "Bad Request", [("Content-Length", "0")], b"", True)
    assert smuggling.classify(CASE["bare-lf"], exchange_of(refused)) == (
        smuggling.REJECTED,
        "HTTP 400",
    )
    closed = smuggling.classify(CASE["two-hosts"], exchange_of(ended="reset"))
    assert closed == (smuggling.REJECTED, "connection reset without a response")
    refused_connect = Exchange(error="could not connect: ConnectionRefusedError")
    assert smuggling.classify(CASE["two-hosts"], refused_connect)[0] == smuggling.REJECTED


def test_silence_until_the_limit_is_no_answer() -> None:
    quiet = Exchange(ended="idle", elapsed_s=1.0)
    assert smuggling.classify(CASE["missing-host"], quiet) == (
        smuggling.NO_ANSWER,
        "no response within 1.0 s",
    )


def test_raw_http_needs_a_plain_http_address() -> None:
    assert raw_http.Address.of("http://127.0.0.1:8000").host_header == "127.0.0.1:8000"
    with pytest.raises(ValueError, match="plain http"):
        raw_http.Address.of("https://127.0.0.1:8443")


def test_inputs_left_unanswered_make_the_smuggling_check_partial() -> None:
    cases = [
        {"id": case.id, "class": "no-answer", "severity": smuggling.severity(case, "no-answer")}
        for case in CASES
    ]
    outcome, summary = smuggling.judge(cases)
    assert outcome == "partial"
    assert "chunk-size-overflow (no-answer)" in summary


def test_a_silent_close_right_after_the_response_is_the_race_not_a_pass() -> None:
    """A server that closes within the check's half-second read, without Connection: close,
    is the worst case of the proxy race (found by review: it used to pass)."""
    result = keepalive_idle.judge_response(
        Response(200, "OK", [("Content-Length", "2")], b"{}", True), ended="closed"
    )
    assert result[0] == "partial"
    assert "without announcing Connection: close" in result[1]


# --- root path ----------------------------------------------------------------------------------


def test_a_server_without_a_root_path_does_not_route_the_prefix(tmp_path: Path) -> None:
    result = run_on_hazard_server(tmp_path, "strict", ROOT_PATH)
    assert_judged(result, "no", "Django never got the prefix", "answered HTTP 404")
    assert set(result["evidence"]) >= {"forwarded", "stripped"}


def test_a_server_mounted_under_the_prefix_keeps_it_in_urls(tmp_path: Path) -> None:
    result = run_on_hazard_server(tmp_path, "strict", ROOT_PATH, mount="/app")
    assert_judged(result, "yes", "when the proxy forwards the prefix", "redirected to /app/polls/")
    assert "stripped" not in result["evidence"]


def test_a_prefix_that_reverse_loses_is_partial() -> None:
    echo = {"path": "/app/echo", "path_info": "/echo", "script_name": "/app", "reversed": "/echo"}
    tries = {"forwarded": ({"echo": echo, "status": 200}, {"location": "/polls/"})}
    outcome, summary = root_path.judge(tries)
    assert outcome == "partial"
    assert "reverse() gave /echo" in summary


@pytest.mark.usefixtures("shorter_slowloris")
def test_slow_clients_outnumber_a_declared_capacity(tmp_path: Path) -> None:
    """A server declaring 20 requests at once (2 workers x 10 threads) gets 21 slow clients,
    and the verdict says the capacity it was judged against."""
    production = Production(workers_plus=2, serves="threads", threads=10)
    server = replace(tiny_definition("naive"), production=production)
    environment = Environment(Path(sys.prefix), "synthetic", {})
    launcher = Launcher(server, environment, tmp_path, PROFILE, make_tls_material(tmp_path / "t"))
    with launcher.launch("http") as shared:
        context = CheckContext(server, load_endpoints(), PROFILE, shared, launcher)
        result = run_check(SLOW_CLIENT, context)
    assert_judged(result, "no", "kept all 21 slow clients", "2 workers x 10 threads = 20")
    assert len(result["evidence"]["slow_clients"]) == 21
    assert result["evidence"]["capacity"] == 20
