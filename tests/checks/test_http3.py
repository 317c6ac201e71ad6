"""The http3 check both ways: Hypercorn serving a tiny ASGI app over QUIC (the yes is in
test_protocols.py, with every other protocol check), the same app naming its fields as Django
does (malformed HTTP/3), the server whose http3 command binds no QUIC socket, and a definition
that declares no http3 command at all."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.checks import CheckContext, run_check
from harness.checks.protocols import http3
from harness.environments import Environment
from harness.launcher import Launcher
from harness.network import make_tls_material
from harness.profiles import PROFILES
from tests.checks.test_protocols import (
    ENDPOINTS,
    HTTP3_OPTIONS,
    HYPERCORN,
    TLS_OPTIONS,
    definition,
)


def _result(server, tmp_path: Path) -> dict:
    environment = Environment(Path(sys.prefix), "synthetic", {})
    launcher = Launcher(
        server, environment, tmp_path, PROFILES["quick"], make_tls_material(tmp_path / "tls")
    )
    with launcher.launch("http") as shared:
        context = CheckContext(server, ENDPOINTS, PROFILES["quick"], shared, launcher)
        return run_check(http3.CHECK, context)


def test_an_http3_command_without_a_quic_listener_is_no(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(http3, "REQUEST_TIMEOUT_S", 1.5)  # the wait for an answer never coming
    server = definition("tls-only", {"http": HYPERCORN, "http3": HYPERCORN + TLS_OPTIONS})
    result = _result(server, tmp_path)
    assert result["outcome"] == "no", result["summary"]
    evidence = result["evidence"]
    assert evidence["https"]["status"] == 200 and evidence["https"]["alt_svc"] is None
    assert evidence["http3"]["status"] is None
    assert "no HTTP/3 answer within 1.5 s" in evidence["http3"]["error"]
    assert "advertises no h3 in Alt-Svc" in result["summary"]


def test_an_answer_with_uppercase_field_names_is_malformed_http3(tmp_path: Path) -> None:
    """Django names its fields "Content-Type", against the ASGI spec (names must be lowercased);
    a server that passes them on unchanged to HTTP/3 (Hypercorn 0.18.0) sends a malformed
    answer, which a conforming client refuses: a no, put on the application (here playing
    Django's part)."""
    server = definition(
        "title-case",
        {"http": HYPERCORN, "http3": HYPERCORN + HTTP3_OPTIONS},
        env={"PROTO_HEADER_CASE": "Title"},
    )
    result = _result(server, tmp_path)
    assert result["outcome"] == "no", result["summary"]
    assert result["evidence"]["refused_field"] == "Content-Type"
    assert "field name Content-Type has uppercase letters" in result["summary"]
    assert result["cause"] == "django" and "must be lowercased" in result["cause_detail"]
    assert result["evidence"]["https"]["status"] == 200  # HTTP/1.1 takes the same names
    assert result["evidence"]["advertised_port"] is not None


def test_a_server_without_an_http3_command_is_not_offered(tmp_path: Path) -> None:
    server = definition("plain", {"http": HYPERCORN})
    result = _result(server, tmp_path)
    assert result["outcome"] == "no"
    assert result["summary"].startswith("Not offered")
    assert result["evidence"]["docs"] in result["summary"]
    assert "instance" not in result["evidence"]  # nothing was started for it


@pytest.mark.parametrize(
    ("alt_svc", "port"),
    [
        ('h3=":8443"; ma=3600', 8443),
        ('h2="alt.example:443", h3-29=":9000"', 9000),
        ('h2=":443"', None),
        (None, None),
    ],
)
def test_the_advertised_http3_port_is_read_from_alt_svc(alt_svc, port) -> None:
    assert http3.advertised_port(alt_svc) == port


def test_an_answer_nobody_advertises_is_partial() -> None:
    assert http3.judge_http3({"status": 200}, None) == "partial"
    assert http3.judge_http3({"status": 200}, 8443) == "yes"
    assert http3.judge_http3({"status": None}, 8443) == "no"
