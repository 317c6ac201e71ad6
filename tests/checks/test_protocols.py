"""The TLS and HTTP/2 checks against synthetic servers: Hypercorn running a tiny ASGI app (HTTP/2
by ALPN and in cleartext, with or without push) and a stdlib server that speaks only HTTP/1.1."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.checks import CheckContext, run_check
from harness.checks.protocols import CHECKS
from harness.checks.protocols.http2_push import nghttp_streams
from harness.checks.protocols.http2_upgrade import upgrade_exchange
from harness.definitions import ServerDefinition
from harness.environments import Environment
from harness.launcher import Launcher
from harness.network import make_tls_material
from harness.profiles import PROFILES
from tests import synthetic

APPS = Path(__file__).parents[1] / "apps"
BY_ID = {check.id: check for check in CHECKS}
ENDPOINTS = {"json_sync": "/json/sync", "preload": "/preload"}
TLS_OPTIONS = ("--certfile", "{certfile}", "--keyfile", "{keyfile}")
# QUIC on the HTTPS port's number (UDP), as the hypercorn definition's http3 command does.
HTTP3_OPTIONS = (*TLS_OPTIONS, "--quic-bind", "{host}:{port}")
# --workers 0: Hypercorn serves in the started process, which starts faster than a worker.
HYPERCORN = ("hypercorn", f"{APPS}/proto_asgi:app", "--bind", "{host}:{port}", "--workers", "0")
HTTP11 = ("{python}", str(APPS / "proto_http11.py"), "{port}")


def definition(identifier: str, commands: dict, env: dict | None = None) -> ServerDefinition:
    return synthetic.definition(
        identifier,
        interface="asgi",
        docs="http://127.0.0.1/docs",
        commands=commands,
        notes=("Synthetic: TLS is whatever the test declares.",),
        env=env or {},
    )


PUSHING_H2 = definition(
    "h2-push",
    {
        "http": HYPERCORN,
        "tls": HYPERCORN + TLS_OPTIONS,
        "http2_tls": HYPERCORN + TLS_OPTIONS,
        "h2c": HYPERCORN,
        "http3": HYPERCORN + HTTP3_OPTIONS,
    },
    env={"PROTO_PUSH": "1"},
)
QUIET_H2 = dataclasses.replace(PUSHING_H2, id="h2-no-push", env={"PROTO_PUSH": "0"})
HTTP11_TLS = definition("http11-tls", {"http": HTTP11, "tls": (*HTTP11, "{certfile}", "{keyfile}")})
PLAIN_ONLY = definition("plain-only", {"http": HTTP11})


@pytest.fixture
def context_for(tmp_path: Path):
    """A CheckContext for a synthetic definition: its shared plain instance and a launcher."""

    @contextmanager
    def start(server: ServerDefinition) -> Iterator[CheckContext]:
        environment = Environment(Path(sys.prefix), "synthetic", {})
        scratch = tmp_path / server.id
        tls = make_tls_material(scratch / "tls")
        launcher = Launcher(server, environment, scratch, PROFILES["quick"], tls)
        with launcher.launch("http") as shared:
            yield CheckContext(server, ENDPOINTS, PROFILES["quick"], shared, launcher)

    yield start


def outcomes(context: CheckContext, *ids: str) -> dict[str, dict]:
    results = {check_id: run_check(BY_ID[check_id], context) for check_id in ids}
    for result in results.values():
        json.dumps(result, allow_nan=False)  # evidence must be storable as it is
    return results


def test_a_server_with_http2_everywhere_and_push_is_yes_on_every_check(context_for) -> None:
    with context_for(PUSHING_H2) as context:
        results = outcomes(context, *BY_ID)
    assert {key: result["outcome"] for key, result in results.items()} == dict.fromkeys(
        BY_ID, "yes"
    ), {key: result["summary"] for key, result in results.items()}
    tls = results["tls"]["evidence"]
    assert tls["tls_version"].startswith("TLSv1.")
    assert tls["instance"]["kind"] == "tls"
    assert results["http2-tls"]["evidence"]["httpx"]["alpn"] == "h2"
    assert results["http2-tls"]["evidence"]["curl"]["http_version"] == "2"
    assert results["http2-cleartext"]["evidence"]["instance"]["kind"] == "h2c"
    assert results["http2-upgrade"]["evidence"]["exchange"]["saw_101"] is True
    push = results["http2-push"]
    assert "deprecated" in push["summary"] and "deprecated" in push["title"]
    pushed = [stream["path"] for stream in push["evidence"]["streams"] if stream["pushed"]]
    assert pushed == ["/static/demo/style.css"]
    http3 = results["http3"]["evidence"]
    assert (http3["http3"]["status"], http3["http3"]["alpn"]) == (200, "h3")
    assert f":{http3['advertised_port']}/" in http3["https"]["url"]  # its own port, advertised


def test_http2_without_push_is_no_and_says_http2_worked(context_for) -> None:
    with context_for(QUIET_H2) as context:
        result = run_check(BY_ID["http2-push"], context)
    assert result["outcome"] == "no"
    assert result["summary"].startswith(
        "HTTP/2 works, but the Link: rel=preload header led to no push"
    )
    assert "Chrome removed it in version 106" in result["summary"]
    paths = [stream["path"] for stream in result["evidence"]["streams"]]
    assert "/static/demo/style.css" in paths  # nghttp fetched it itself


def test_an_http11_only_server_terminates_tls_but_has_no_http2(context_for) -> None:
    with context_for(HTTP11_TLS) as context:
        results = outcomes(context, *BY_ID)
    summaries = {key: result["summary"] for key, result in results.items()}
    assert results["tls"]["outcome"] == "yes", summaries
    assert results["tls"]["evidence"]["alpn"] == "http/1.1"
    assert results["tls"]["evidence"]["tls_version"].startswith("TLSv1.")  # closed, still read
    for check_id in ("http2-tls", "http2-cleartext", "http2-upgrade", "http2-push"):
        assert results[check_id]["outcome"] == "no", summaries
    assert "ALPN chose http/1.1" in summaries["http2-tls"]
    assert results["http2-tls"]["evidence"]["curl"]["http_version"] == "1.1"
    assert "its plain port (no h2c option declared)" in summaries["http2-cleartext"]
    assert results["http2-upgrade"]["evidence"]["exchange"]["saw_101"] is False
    assert "without a 101" in summaries["http2-upgrade"]
    assert summaries["http2-push"].startswith("No HTTP/2 at all on its TLS port")


def test_a_server_without_tls_option_says_so_and_points_to_a_proxy(context_for) -> None:
    with context_for(PLAIN_ONLY) as context:
        results = outcomes(context, "tls", "http2-tls", "http2-push")
    assert results["tls"]["outcome"] == "no"
    assert "TLS-terminating proxy" in results["tls"]["summary"]
    assert results["tls"]["evidence"]["declared_commands"] == ["http"]
    assert results["http2-tls"]["outcome"] == "no"
    assert results["http2-push"]["outcome"] == "no"
    assert results["http2-push"]["evidence"]["instance"]["kind"] == "http"


NGHTTP_STATS = """***** Statistics *****

sorted by 'complete'

id  responseEnd requestStart  process code size request path
  2     +3.12ms *    +2.17ms    950us  200   23 /static/demo/style.css
 13     +3.45ms       +974us   2.48ms  200   94 /preload
"""


def test_nghttp_statistics_mark_pushed_streams() -> None:
    streams = nghttp_streams(NGHTTP_STATS)
    assert [(s["path"], s["pushed"], s["status"]) for s in streams] == [
        ("/static/demo/style.css", True, 200),
        ("/preload", False, 200),
    ]
    assert nghttp_streams("[ERROR] HTTP/2 protocol was not selected.") == []


def test_upgrade_exchange_reads_curl_verbose_output() -> None:
    stderr = "> Upgrade: h2c\n< HTTP/1.1 101 \n< upgrade: h2c\n< HTTP/2 200 \n"
    assert upgrade_exchange(stderr) == {
        "sent_upgrade": True,
        "status_lines": ["HTTP/1.1 101", "HTTP/2 200"],
        "saw_101": True,
    }


def test_an_h2c_option_that_accepts_but_never_answers_is_no(tmp_path: Path) -> None:
    """Uvicorn's --http2 in cleartext: the start-up probe (HTTP/2 with prior knowledge) is
    accepted and never answered, which is the check's answer, not a failure to measure."""
    hazard = Path(__file__).parents[1] / "apps" / "hazard_server.py"
    server = definition(
        "silent-h2c",
        {
            "http": ("{python}", str(hazard), "{port}", "strict"),
            "h2c": ("{python}", str(APPS / "silent_server.py"), "{port}"),
        },
    )
    profile = dataclasses.replace(PROFILES["quick"], start_timeout_s=3)
    environment = Environment(Path(sys.prefix), "synthetic", {})
    launcher = Launcher(server, environment, tmp_path, profile, make_tls_material(tmp_path / "tls"))
    with launcher.launch("http") as shared:
        context = CheckContext(server, ENDPOINTS, profile, shared, launcher)
        result = run_check(BY_ID["http2-cleartext"], context)
    assert result["outcome"] == "no", result["summary"]
    assert "never answers an HTTP/2 request" in result["summary"]
