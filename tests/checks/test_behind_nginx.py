"""The behind-nginx check through a real nginx (Debian's, as the harness runs it) in front of a
tiny ASGI app (tests/apps/proxied_streams.py) that sends each event as it is made, with or
without X-Accel-Buffering: no, or buffers the whole stream; and its verdicts and configuration
file on their own."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from evidence.schema import load_schema, schema_errors
from evidence.validation import load_evidence
from generators.render import render_pages
from harness.benchmarks import nginx
from harness.checks import CheckContext, run_check
from harness.checks.operations import CHECKS, behind_nginx
from harness.checks.operations.nginx_configurations import (
    CONFIGURATIONS_FILE,
    DOCUMENTED,
    STOCK,
    ConfigurationError,
    load_configurations,
)
from harness.endpoints import load_endpoints
from tests import synthetic
from tests.checks.project_servers import project_server
from tests.conftest import processes_mentioning

APP = Path(__file__).parents[1] / "apps" / "proxied_streams.py"
needs_nginx = pytest.mark.skipif(nginx.find_nginx() is None, reason="nginx is not installed")

Start = Callable[[str, str], CheckContext]


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[Start]:
    """Start the tiny app in a mode, as a server of an interface, the way the harness starts
    servers; returns the check context around it. Always stopped after."""
    with ExitStack() as stack:

        def start(interface: str, mode: str) -> CheckContext:
            definition = synthetic.definition(
                f"proxied-{interface}-{mode}",
                interface=interface,
                commands={"http": (sys.executable, str(APP), "{port}", mode)},
            )
            scratch = tmp_path / f"{interface}-{mode}"
            scratch.mkdir()
            return project_server(stack, definition, scratch)

        yield start


def by_id(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in result["evidence"]["configurations"]}


@needs_nginx
def test_events_flushed_with_the_accel_header_stream_through_both_and_websockets_need_upgrade(
    proxied: Start, tmp_path: Path
) -> None:
    result = run_check(behind_nginx.CHECK, proxied("asgi", "flushes-accel"))
    assert result["outcome"] == "yes", result["summary"]
    run = synthetic.run()
    run["checks"] = [result]
    assert schema_errors(run, "run") == []
    stock, documented = by_id(result)[STOCK], by_id(result)[DOCUMENTED]
    assert stock["sse"]["pace"] == documented["sse"]["pace"] == "live"
    assert len(documented["sse"]["arrivals_s"]) == behind_nginx.SSE_EVENTS
    # The header did the work: nginx buffers by default, and streamed anyway.
    assert result["evidence"]["accel_buffering_header"]["value"] == "no"
    assert result["evidence"]["unbuffered_by"] == "X-Accel-Buffering"
    # The silence outlasts the stock read timeout (nginx says so) but not the documented one.
    assert stock["idle_gap"]["end"] == "cut"
    assert any("upstream timed out" in line for line in stock["nginx_log"])
    assert documented["idle_gap"]["end"] == "kept"
    # Without the Upgrade headers the server sees a plain GET, which it answers 404.
    assert stock["websocket"]["end"] == "refused"
    assert stock["websocket"]["exchange"]["refusal"]["status"] == 404
    assert documented["websocket"]["end"] == "echoed"
    assert "proxy_buffering off;" in documented["config"]
    assert "proxy_buffering" not in stock["config"]
    assert not processes_mentioning(str(tmp_path / "asgi-flushes-accel" / "behind-nginx"))


@needs_nginx
def test_events_without_the_header_are_held_by_stock_nginx_and_freed_by_proxy_buffering_off(
    proxied: Start,
) -> None:
    result = run_check(behind_nginx.CHECK, proxied("asgi", "flushes"))
    assert result["outcome"] == "yes", result["summary"]
    stock, documented = by_id(result)[STOCK], by_id(result)[DOCUMENTED]
    assert stock["sse"]["pace"] == "buffered"
    assert documented["sse"]["pace"] == "live"
    assert result["evidence"]["accel_buffering_header"]["value"] is None
    assert result["evidence"]["unbuffered_by"] == "proxy_buffering off"
    assert "proxy_buffering off did the work" in result["summary"]


@needs_nginx
def test_a_server_that_buffers_the_stream_is_no_even_with_the_documented_settings(
    proxied: Start,
) -> None:
    result = run_check(behind_nginx.CHECK, proxied("asgi", "buffers"))
    assert result["outcome"] == "no", result["summary"]
    assert result["cause"] == "server"
    assert by_id(result)[DOCUMENTED]["sse"]["pace"] == "buffered"
    assert "by the server" in result["summary"]
    assert result["evidence"]["unbuffered_by"] is None


@needs_nginx
def test_a_wsgi_server_is_judged_by_its_stream_alone(proxied: Start) -> None:
    result = run_check(behind_nginx.CHECK, proxied("wsgi", "flushes-accel"))
    assert result["outcome"] == "yes", result["summary"]
    for configuration in result["evidence"]["configurations"]:
        assert configuration["websocket"] == {"end": "not-applicable", "exchange": None}
    assert "WSGI carries none" in result["summary"]


def test_without_nginx_the_check_is_an_error_that_says_why(
    proxied: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = proxied("asgi", "flushes-accel")
    monkeypatch.setattr(nginx, "find_nginx", lambda: None)
    result = run_check(behind_nginx.CHECK, context)
    assert result["outcome"] == "error"
    assert "nginx was not found" in result["summary"]


# --- the verdict from records ----------------------------------------------------------------


def _through(pace: str, gap: str = "kept", websocket: str = "echoed") -> dict[str, Any]:
    times = {"live": [0.02, 0.42, 0.82, 1.22, 1.62], "irregular": [0.02, 1.0, 1.0, 1.0, 1.6]}
    arrivals = times.get(pace, [1.62] * behind_nginx.SSE_EVENTS)
    return {
        "sse": {
            "pace": pace,
            "arrivals_s": arrivals,
            "events_received": 5,
            "status": 200,
            "error": None,
        },
        "idle_gap": {
            "end": gap,
            "closed_s": 2.05,
            "arrivals_s": [0.01],
            "status": 200,
            "error": None,
        },
        "websocket": {"end": websocket, "exchange": {"problem": "closed", "refusal": None}},
    }


def test_the_documented_configuration_decides_and_the_stock_one_is_only_described() -> None:
    stock = _through("buffered", gap="cut", websocket="refused")
    stock["websocket"]["exchange"]["refusal"] = {"status": 404}
    outcome, summary = behind_nginx.judge("asgi", stock, _through("live"), None)
    assert outcome == "yes"
    assert "Stock nginx (its defaults, not counted)" in summary
    assert (
        "cut 2.04 s into a 4 s silence (proxy_read_timeout 2 s, standing for nginx's default "
        "of 60 s)" in summary
    )


@pytest.mark.parametrize(
    ("documented", "outcome"),
    [
        (_through("irregular"), "partial"),
        (_through("live", gap="cut"), "partial"),
        (_through("live", websocket="failed"), "no"),
        (_through("incomplete"), "no"),
        (_through("failed"), "no"),
    ],
)
def test_what_the_documented_configuration_still_lacks_lowers_the_outcome(
    documented: dict[str, Any], outcome: str
) -> None:
    assert behind_nginx.judge("asgi", _through("live"), documented, "no")[0] == outcome


def test_a_failed_websocket_does_not_count_under_wsgi() -> None:
    documented = _through("live", websocket="not-applicable")
    assert behind_nginx.judge("wsgi", documented, documented, "no")[0] == "yes"


# --- the configurations file -----------------------------------------------------------------


def test_the_documented_stream_location_covers_the_sample_projects_streams() -> None:
    endpoints = load_endpoints()
    documented = load_configurations()[DOCUMENTED]
    assert "location /sse {" in documented.server
    assert endpoints["sse"].startswith("/sse") and endpoints["sse_sync"].startswith("/sse")


def test_the_check_is_in_the_operations_group() -> None:
    assert behind_nginx.CHECK in CHECKS


def test_a_configuration_without_its_read_timeout_is_refused_with_its_field(
    tmp_path: Path,
) -> None:
    text = CONFIGURATIONS_FILE.read_text(encoding="utf-8").replace(
        "    proxy_read_timeout 2s;\n", ""
    )
    broken = tmp_path / "nginx_configurations.toml"
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match="configurations/0/server: needs exactly one"):
        load_configurations(broken)


def test_the_evidence_schema_names_what_the_check_records() -> None:
    schema = load_schema("check-evidence")["$defs"]["checks"]["behind-nginx"]
    item = schema["properties"]["configurations"]["items"]["properties"]
    assert tuple(item["sse"]["properties"]["pace"]["enum"]) == behind_nginx.PACES
    assert tuple(item["idle_gap"]["properties"]["end"]["enum"]) == behind_nginx.GAP_ENDS
    assert tuple(item["websocket"]["properties"]["end"]["enum"]) == behind_nginx.WEBSOCKET_ENDS


def test_the_methodology_page_prints_the_configurations_the_harness_runs(tmp_path: Path) -> None:
    synthetic.write_data(tmp_path, [synthetic.run("alpha")])
    page = render_pages(load_evidence(tmp_path))["methodology.md"]
    for configuration in load_configurations().values():
        assert configuration.server.rstrip("\n") in page
        assert configuration.http.rstrip("\n") in page
