"""The streaming and event checks against a synthetic server that streams live, buffers,
sends the wrong Content-Type, fails, and notices or ignores a client that left."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.browser import unavailable_reason
from harness.checks import CheckContext, run_check
from harness.checks.streaming import CHECKS
from harness.checks.streaming.chunked import stream_cause
from harness.checks.streaming.sse_disconnect import judge_disconnect
from harness.checks.streaming.timing import classify_arrivals
from harness.definitions import Production, ServerDefinition
from harness.endpoints import sse_idiom
from harness.environments import Environment
from harness.launcher import Instance, Launcher
from harness.network import make_tls_material
from harness.profiles import PROFILES
from harness.sizing import SERVER_CPUS
from tests import synthetic

STREAM_APP = Path(__file__).parents[1] / "apps" / "stream_app.py"
CHECK = {check.id: check for check in CHECKS}
needs_browser = pytest.mark.skipif(
    unavailable_reason() is not None, reason=f"no browser: {unavailable_reason()}"
)
TINY = synthetic.definition(
    "tiny-stream", interface="asgi", commands={"http": (sys.executable, str(STREAM_APP), "{port}")}
)
# Declared as a threaded WSGI server, so the SSE verdict can say how many streams fit.
TINY_WSGI = synthetic.definition(
    "tiny-stream-wsgi",
    interface="wsgi",
    commands=TINY.commands,
    production=Production(serves="threads", threads=4),
)


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Launcher, Instance]]:
    """One stream_app for the whole module, started the way the harness starts servers."""
    scratch = tmp_path_factory.mktemp("stream-scratch")
    launcher = Launcher(
        TINY,
        Environment(path=scratch / "no-env", python_version="", packages={}),
        scratch,
        PROFILES["quick"],
        make_tls_material(scratch / "tls"),
    )
    with launcher.launch("http") as shared:
        yield launcher, shared


def _context(
    launched: tuple[Launcher, Instance], behaviour: str, definition: ServerDefinition = TINY
) -> CheckContext:
    launcher, shared = launched
    endpoints = {
        "stream_sync": f"/{behaviour}/stream",
        "stream_async": f"/{behaviour}/stream",
        "sse": f"/{behaviour}/sse",
        "sse_page": f"/{behaviour}/sse/page",
        "json_sync": "/json/sync",
    }
    return CheckContext(definition, endpoints, PROFILES["quick"], shared, launcher)


@pytest.mark.parametrize(("behaviour", "outcome"), [("live", "yes"), ("buffered", "no")])
def test_a_buffered_stream_is_told_from_a_live_one(launched, behaviour: str, outcome: str) -> None:
    result = run_check(CHECK["stream-sync"], _context(launched, behaviour))
    assert result["outcome"] == outcome, result["summary"]
    evidence = result["evidence"]
    assert [chunk["number"] for chunk in evidence["chunks"]] == [1, 2, 3, 4, 5]
    assert evidence["transfer_encoding"] == "chunked"
    assert evidence["generator"] == "sync"
    if behaviour == "buffered":
        assert result["summary"].startswith("Buffered: all 5 chunks")
        assert "StreamingHttpResponse must consume synchronous" in result["summary"]
        assert evidence["django_warnings"]
        # A sync iterator under ASGI: Django's handler buffers it, whatever the server does.
        assert result["cause"] == "django"
        assert "sync_to_async(list)" in result["cause_detail"]
    else:
        assert "cause" not in result


def test_a_stream_of_the_interface_s_own_kind_held_back_is_the_server_s(launched) -> None:
    result = run_check(CHECK["stream-sync"], _context(launched, "buffered", TINY_WSGI))
    assert result["outcome"] == "no", result["summary"]
    assert (result["cause"], "cause_detail" in result) == ("server", False)


def test_a_failing_stream_is_a_no_with_its_status(launched) -> None:
    result = run_check(CHECK["stream-async"], _context(launched, "broken", TINY_WSGI))
    assert result["outcome"] == "no"
    assert "HTTP 500" in result["summary"]
    assert result["cause"] == "server"  # an async iterator under WSGI, but it failed, not buffered


@pytest.mark.parametrize(
    ("interface", "generator", "classification", "cause"),
    [
        ("asgi", "sync", "buffered", "django"),
        ("wsgi", "async", "buffered", "django"),
        ("asgi", "async", "buffered", "server"),
        ("wsgi", "sync", "buffered", "server"),
        ("asgi", "sync", "irregular", "server"),
        ("wsgi", "async", None, "server"),  # failed before any classification
    ],
)
def test_only_a_buffered_stream_of_the_other_kind_is_django_s(
    interface: str, generator: str, classification: str | None, cause: str
) -> None:
    record = {"classification": classification} if classification else {}
    found, detail = stream_cause(interface, generator, record)
    assert found == cause
    assert bool(detail) == (cause == "django")
    if cause == "django":
        assert interface.upper() in detail and "django/http/response.py" in detail


@pytest.mark.parametrize(
    ("behaviour", "outcome", "words"),
    [
        ("live", "yes", "Live: first event after"),
        ("buffered", "no", "Buffered: no event arrived in 6 s of an endless stream"),
        ("wrong-type", "partial", "served as text/plain"),
        ("broken", "no", "HTTP 500"),
    ],
)
def test_sse_needs_events_of_an_endless_stream_as_they_come(
    launched, behaviour: str, outcome: str, words: str
) -> None:
    result = run_check(CHECK["sse"], _context(launched, behaviour))
    assert result["outcome"] == outcome, result["summary"]
    assert words in result["summary"]
    evidence = result["evidence"]
    assert evidence["instance"]["kind"] == "http"  # its own instance, not the shared one
    assert evidence["query"].startswith("count=0&")  # endless
    if behaviour == "wrong-type":
        assert "text/event-stream" in evidence["client_refused"]
    if behaviour == "live":
        assert evidence["events_received"] >= 8  # about one every 0.5 s for 6 s
        assert evidence["after_client_left"]["answered"] is True
    if behaviour == "buffered":
        assert evidence["events_received"] == 0 and evidence["limit_reached"] is True
        assert isinstance(evidence["rss_growth_bytes"], int)


def _idiom_context(
    launched: tuple[Launcher, Instance], interface: str, native: str, other: str
) -> CheckContext:
    """The interface's own SSE endpoint behaves as ``native``, the other idiom's as ``other``:
    a check that reads the wrong one gets the other outcome."""
    launcher, shared = launched
    own = sse_idiom(interface).endpoint
    (not_own,) = {"sse", "sse_sync"} - {own}
    endpoints = {
        own: f"/{native}/sse",
        not_own: f"/{other}/sse",
        "sse_page": f"/{native}/sse/page",
        "json_sync": "/json/sync",
    }
    definition = TINY_WSGI if interface == "wsgi" else TINY
    return CheckContext(definition, endpoints, PROFILES["quick"], shared, launcher)


IDIOM_COSTS = [
    ("wsgi", "sync", "/sse/sync", "each stream holds a worker thread"),
    ("asgi", "async", "/sse", "holds no thread"),
]


@pytest.mark.parametrize(("interface", "generator", "real_path", "cost"), IDIOM_COSTS)
def test_sse_reads_the_stream_of_the_interface_s_idiom_and_says_what_it_costs(
    launched, interface: str, generator: str, real_path: str, cost: str
) -> None:
    result = run_check(CHECK["sse"], _idiom_context(launched, interface, "live", "buffered"))
    assert result["outcome"] == "yes", result["summary"]
    assert cost in result["summary"]
    assert f"From a {generator} generator" in result["summary"]
    evidence = result["evidence"]
    assert evidence["path"] == "/live/sse"
    assert evidence["idiom"]["generator"] == generator
    assert evidence["idiom"]["holds_worker_thread"] is (interface == "wsgi")
    assert sse_idiom(interface).endpoint == {"/sse/sync": "sse_sync", "/sse": "sse"}[real_path]
    if interface == "wsgi":  # how many streams fit, from the configuration's declared capacity
        capacity = TINY_WSGI.capacity(SERVER_CPUS)
        assert capacity is not None
        assert f"at most {capacity} streams are open at once" in result["summary"]
        assert TINY_WSGI.describe_capacity(SERVER_CPUS) in result["summary"]
    else:
        assert "streams are open at once" not in result["summary"]


def test_disconnect_reads_the_stream_of_the_interface_s_idiom(launched) -> None:
    context = _idiom_context(launched, "wsgi", "notices", "ignores")
    result = run_check(CHECK["sse-disconnect"], context)
    assert result["outcome"] == "yes", result["summary"]
    assert result["evidence"]["path"] == "/notices/sse"
    assert result["evidence"]["idiom"]["generator"] == "sync"
    assert "From a sync generator (/notices/sse), the WSGI idiom." in result["summary"]


@pytest.mark.parametrize(
    ("behaviour", "outcome", "ending"), [("notices", "yes", "cancelled"), ("ignores", "no", None)]
)
def test_disconnect_needs_the_generator_to_hear_of_it(
    launched, behaviour: str, outcome: str, ending: str | None
) -> None:
    result = run_check(CHECK["sse-disconnect"], _context(launched, behaviour))
    assert result["outcome"] == outcome, result["summary"]
    evidence = result["evidence"]
    assert evidence["client"]["events_received"] >= 3  # both streamed until the client left
    assert (evidence["end_record"] or {}).get("event") == ending
    assert evidence["instance"]["kind"] == "http"  # its own instance, not the shared one


@needs_browser
@pytest.mark.parametrize(("behaviour", "outcome"), [("live", "yes"), ("buffered", "partial")])
def test_the_browser_check_sees_when_events_appear(launched, behaviour: str, outcome: str) -> None:
    result = run_check(CHECK["sse-browser"], _context(launched, behaviour))
    assert result["outcome"] == outcome, result["summary"]
    evidence = result["evidence"]
    assert [event["n"] for event in evidence["events"]] == [1, 2, 3, 4, 5]
    assert evidence["final_status"] == "done"


@needs_browser
def test_the_browser_check_asks_the_page_for_the_interface_s_idiom(launched) -> None:
    result = run_check(CHECK["sse-browser"], _idiom_context(launched, "wsgi", "live", "broken"))
    assert result["outcome"] == "yes", result["summary"]
    assert result["evidence"]["query"].startswith("idiom=sync&")
    assert result["evidence"]["idiom"]["holds_worker_thread"] is True
    assert "each stream holds a worker thread" in result["summary"]


@needs_browser
def test_the_browser_check_reports_a_failing_stream(launched) -> None:
    result = run_check(CHECK["sse-browser"], _context(launched, "broken"))
    assert result["outcome"] == "no", result["summary"]
    assert "0 of 5 events" in result["summary"]
    assert result["evidence"]["final_status"] == "error"


def test_timing_rule() -> None:
    span = 1.6
    assert classify_arrivals([0.01, 0.41, 0.81, 1.21, 1.61], span) == "live"
    assert classify_arrivals([1.62, 1.62, 1.62, 1.62, 1.63], span) == "buffered"
    assert classify_arrivals([0.9, 1.0, 1.3, 1.5, 1.62], span) == "irregular"
    # Spread out but late: the first item came at the end of the wait, not at its start.
    assert classify_arrivals([2.0, 2.4, 2.8, 3.2, 3.6], span) == "irregular"


def test_a_stream_that_never_started_is_not_called_cancelled() -> None:
    client = {"status": None, "error": None, "events_received": 0, "limit_reached": True}
    client["left_at"] = 100.0
    outcome, summary = judge_disconnect(client, None, started=True)
    assert outcome == "no"
    assert "no response had begun" in summary and "kept running" in summary
    late = {"event": "cancelled", "at": 100.0 + 5.5}
    assert judge_disconnect(client, late, started=True)[0] == "no"
    assert judge_disconnect(client, {**late, "at": 100.3}, started=True)[0] == "yes"


def test_without_chromium_the_browser_check_is_an_error_that_says_so(
    launched, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("harness.browser.CHROMIUM_PATH", tmp_path / "no-chromium")
    result = run_check(CHECK["sse-browser"], _context(launched, "live"))
    assert result["outcome"] == "error"
    assert "Chromium is not installed" in result["summary"]
