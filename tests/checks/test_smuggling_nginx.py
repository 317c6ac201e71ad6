"""The request-smuggling corpus behind a real nginx (Debian's, as the harness runs it) with one
kept-alive upstream connection: a second client, on a connection of its own, is affected when
the server in front of which nginx sits leaves bytes of the first request on that upstream
connection (tests/apps/hazard_server.py ``cl0``, synthetic: it reads no body at all), and not
when the server frames every request as nginx sends it (``strict``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.checks.hazards import smuggling_nginx
from harness.checks.hazards._shared import address
from harness.checks.hazards.raw_http import Address, Exchange, Response
from harness.checks.hazards.smuggling_corpus import CASES
from tests.checks.hazard_servers import started
from tests.conftest import processes_mentioning


def _measure(mode: str, tmp_path: Path, mount: str = "") -> dict:
    with started(mode, tmp_path / mode, mount) as context:
        return smuggling_nginx.measure(tmp_path / "nginx", address(context))


def test_a_server_that_reads_no_body_lets_a_request_spoil_the_next_clients(
    tmp_path: Path,
) -> None:
    behind = _measure("cl0", tmp_path)
    assert behind["measured"] is True, behind.get("reason")
    cases = {case["id"]: case for case in behind["cases"]}
    spoiled = cases["uppercase-chunked"]
    # nginx de-chunked the body and sent it with a Content-Length; the server left "hello" on
    # the upstream connection, and the second client's request line came after it.
    assert spoiled["nginx"] == smuggling_nginx.FORWARDED
    assert spoiled["upstream_kept"] is True
    assert spoiled["affected"] is True
    assert "helloGET /echo?second-client=uppercase-chunked" in spoiled["second_detail"]
    assert [c["id"] for c in behind["cases"] if c["affected"]] == ["uppercase-chunked"]


def test_a_server_that_frames_what_nginx_sends_leaves_every_second_client_alone(
    tmp_path: Path,
) -> None:
    behind = _measure("strict", tmp_path)
    assert behind["measured"] is True, behind.get("reason")
    assert behind["upstream_keepalive"] == 1
    assert (
        "keepalive 1;" in behind["config"] and 'proxy_set_header Connection "";' in behind["config"]
    )
    assert not any(case["affected"] for case in behind["cases"])
    assert [case["id"] for case in behind["cases"]] == [case.id for case in CASES]
    cases = {case["id"]: case for case in behind["cases"]}
    # nginx refuses these itself, and says why in its log; the server never sees them.
    for refused in ("cl-and-te", "te-and-short-cl", "two-content-lengths"):
        assert cases[refused]["nginx"] == smuggling_nginx.REJECTED
        assert cases[refused]["detail"] == "nginx answered HTTP 400 itself"
        assert cases[refused]["nginx_log"][0].startswith("client sent")
        assert cases[refused]["second_status"] == 200
    assert cases["uppercase-chunked"]["nginx"] == smuggling_nginx.FORWARDED
    assert "Django got POST /echo, body 5 B" in cases["uppercase-chunked"]["detail"]
    assert not processes_mentioning(str(tmp_path / "nginx"))  # the harness ended nginx


def test_a_proxy_path_that_does_not_answer_a_clean_request_measures_nothing(
    tmp_path: Path,
) -> None:
    # Mounted under /app, the server answers /echo with 404: no input could be judged.
    behind = _measure("strict", tmp_path, mount="/app")
    assert behind["measured"] is False
    assert behind["reason"].startswith("a clean request through nginx did not get its answer")
    assert "cases" not in behind


def test_without_nginx_the_variant_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smuggling_nginx, "find_nginx", lambda: None)
    behind = smuggling_nginx.measure(tmp_path, Address("127.0.0.1", 9))
    assert behind == {
        "measured": False,
        "reason": "NginxUnavailable: nginx was not found on PATH or in /usr/sbin: "
        + smuggling_nginx.INSTALL_HINT,
    }


# --- the second client's answer --------------------------------------------------------------


def _echo(**facts: object) -> Response:
    document = {
        "echo": True,
        "method": "GET",
        "path": "/echo",
        "query_string": "second-client=bare-lf",
        "headers": {"HTTP_X_PROBE": "second"},
        "body_bytes": 0,
        **facts,
    }
    body = json.dumps(document).encode()
    return Response(200, "OK", [("Content-Type", "application/json")], body, True)


def _affected(*responses: Response) -> tuple[bool, str]:
    return smuggling_nginx.second_client_affected(
        Exchange(ended="closed", responses=list(responses)), "bare-lf"
    )


def test_the_second_clients_own_answer_is_unaffected() -> None:
    assert _affected(_echo()) == (
        False,
        "HTTP 200, its own request: GET /echo?second-client=bare-lf",
    )


def test_the_smuggled_requests_answer_is_affected() -> None:
    affected, detail = _affected(_echo(query_string="smuggled=1"))
    assert affected and detail.startswith("the smuggled request's answer")


def test_a_second_answer_or_another_request_is_affected() -> None:
    assert _affected(_echo(), _echo())[0] is True
    assert _affected(_echo(method="POST", body_bytes=5))[0] is True
    assert _affected(_echo(headers={}))[0] is True  # its X-Probe was not what Django saw
    assert _affected() == (True, "no answer (connection closed)")
