"""The client-disconnect check against the sample project's real Django application, served by
tiny WSGI and ASGI servers that do or do not tell Django the client left (tests/apps/
disconnect_wsgi.py, disconnect_asgi.py), and its verdicts from records alone."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from evidence.schema import load_schema, schema_errors
from harness.checks import CheckContext, all_checks, run_check
from harness.checks.operations import CHECKS, GROUP, client_disconnect
from harness.checks.operations.client_disconnect import (
    DECIDERS,
    VERDICTS,
    batches,
    judge,
    scenario_verdict,
)
from harness.endpoints import load_endpoints
from harness.profiles import PROFILES
from tests import synthetic
from tests.checks.conftest import script_launcher

APPS = Path(__file__).parents[1] / "apps"
SERVERS = {"wsgi": APPS / "disconnect_wsgi.py", "asgi": APPS / "disconnect_asgi.py"}
# Work of 2 s instead of 5 s keeps each run short; it still outlasts the tiny ASGI server's 1 s
# grace before it cancels a request whose client left.
SHORT_STEPS = 20

Start = Callable[[str, str], CheckContext]


@pytest.fixture
def tiny_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Start]:
    """Start a tiny server of an interface in a mode around the real project, the way the
    harness starts servers (in sampleproject/, with a scratch SQLite file and state dir)."""
    monkeypatch.setattr(client_disconnect, "STEPS", SHORT_STEPS)
    monkeypatch.setattr(
        client_disconnect, "WORK_S", SHORT_STEPS * client_disconnect.STEP_INTERVAL_S
    )
    with ExitStack() as stack:

        def start(interface: str, mode: str) -> CheckContext:
            definition = synthetic.definition(
                f"disconnect-{interface}-{mode}",
                interface=interface,
                commands={"http": (sys.executable, str(SERVERS[interface]), "{port}", mode)},
            )
            scratch = tmp_path / f"{interface}-{mode}"
            scratch.mkdir()
            launcher = script_launcher(definition, scratch)
            shared = stack.enter_context(launcher.launch("http"))
            return CheckContext(definition, load_endpoints(), PROFILES["quick"], shared, launcher)

        yield start


def verdicts(result: dict) -> dict[str, str]:
    return {scenario["id"]: scenario["verdict"] for scenario in result["evidence"]["scenarios"]}


def test_a_wsgi_server_that_closes_the_response_stops_the_stream_and_ends_every_request(
    tiny_server: Start,
) -> None:
    result = run_check(client_disconnect.CHECK, tiny_server("wsgi", "closes"))
    assert result["outcome"] == "yes", result["summary"]
    assert verdicts(result) == {
        "sync-view": "ran-to-end",
        "query": "ran-to-end",
        "stream": "stopped",
        "async-view": "ran-to-end",
    }
    scenarios = {scenario["id"]: scenario for scenario in result["evidence"]["scenarios"]}
    assert scenarios["stream"]["cancelled_by"] == "GeneratorExit"
    assert scenarios["stream"]["decided_by"] == "server"
    assert scenarios["sync-view"]["decided_by"] == "django"
    # The query's rows were made by SQLite after the client left, and its connection was
    # closed when request_finished fired.
    assert scenarios["query"]["steps"] == SHORT_STEPS
    assert scenarios["query"]["steps_after_leaving"] > 0
    assert scenarios["query"]["connection_open_after_request_finished"] is False
    assert "as under any WSGI server" in result["summary"]
    run = synthetic.run()
    run["checks"] = [result]
    assert schema_errors(run, "run") == []


def test_a_wsgi_server_that_never_closes_the_response_leaks(tiny_server: Start) -> None:
    result = run_check(client_disconnect.CHECK, tiny_server("wsgi", "never-closes"))
    assert result["outcome"] == "no", result["summary"]
    assert set(verdicts(result).values()) == {"no-cleanup"}
    assert result["summary"].startswith("Leak: request_finished never fired for the sync view")
    stream = next(s for s in result["evidence"]["scenarios"] if s["id"] == "stream")
    # The dropped generator is closed by the garbage collector, but Django never hears of it.
    assert stream["seconds_after_leaving"]["finally"] is not None
    assert stream["seconds_after_leaving"]["request_finished"] is None


def test_an_asgi_server_that_signals_the_disconnect_has_django_cancel_async_work(
    tiny_server: Start,
) -> None:
    result = run_check(client_disconnect.CHECK, tiny_server("asgi", "signals"))
    assert result["outcome"] == "yes", result["summary"]
    assert verdicts(result) == {
        "sync-view": "ran-to-end",
        "query": "ran-to-end",
        "stream": "stopped",
        "async-view": "stopped",
    }
    query = next(s for s in result["evidence"]["scenarios"] if s["id"] == "query")
    # The async view awaiting the query is cancelled at once; the query runs on in its thread.
    assert query["cancelled_by"] == "CancelledError"
    assert query["seconds_after_leaving"]["completed"] > query["seconds_after_leaving"]["cancelled"]
    assert query["connection_open_after_request_finished"] is False


def test_an_asgi_server_that_never_signals_lets_async_work_run_on(tiny_server: Start) -> None:
    result = run_check(client_disconnect.CHECK, tiny_server("asgi", "silent"))
    assert result["outcome"] == "partial", result["summary"]
    assert set(verdicts(result).values()) == {"ran-to-end"}
    assert "the stream (ran to its end" in result["summary"]
    assert "the async view (ran to its end" in result["summary"]


def test_an_asgi_server_that_cancels_the_request_early_loses_request_finished(
    tiny_server: Start,
) -> None:
    result = run_check(client_disconnect.CHECK, tiny_server("asgi", "cancels"))
    assert result["outcome"] == "no", result["summary"]
    assert verdicts(result) == {
        "sync-view": "no-cleanup",
        "query": "no-cleanup",
        "stream": "stopped",
        "async-view": "stopped",
    }
    sync_view = next(s for s in result["evidence"]["scenarios"] if s["id"] == "sync-view")
    assert sync_view["seconds_after_leaving"]["completed"] is not None  # it ran to its end
    assert sync_view["decided_by"] == "server"
    assert (
        "request_finished never fired for the sync view and the database query"
        in (result["summary"])
    )


LEFT_AT = 100.0


def records(*events: tuple[str, float]) -> list[dict]:
    return [{"request": "r", "event": event, "at": LEFT_AT + at} for event, at in events]


@pytest.mark.parametrize(
    ("events", "can_stop", "verdict", "decided_by"),
    [
        ([("started", -0.5), ("step", 0.1), ("cancelled", 0.1), ("finally", 0.1),
          ("request_finished", 0.1)], True, "stopped", "server"),
        ([("started", -0.5), ("step", 4.5), ("completed", 4.5), ("finally", 4.5),
          ("request_finished", 4.5)], False, "ran-to-end", "django"),
        ([("started", -0.5), ("step", 2.0), ("cancelled", 2.0), ("finally", 2.0),
          ("request_finished", 2.0)], True, "stopped-late", "server"),
        ([("started", -0.5), ("completed", 4.5), ("finally", 4.5)], False, "no-cleanup",
         "server"),
        ([], True, "not-started", "server"),
        ([("started", 0.3), ("cancelled", 0.3), ("finally", 0.3), ("request_finished", 0.3)],
         True, "started-after-leaving", "server"),
    ],
)  # fmt: skip
def test_the_verdict_of_one_abandoned_request(
    events: list, can_stop: bool, verdict: str, decided_by: str
) -> None:
    found = scenario_verdict(records(*events), LEFT_AT, can_stop)
    assert (found["verdict"], found["decided_by"]) == (verdict, decided_by)


def _result(id_: str, verdict: str, can_stop: bool, **seconds: float) -> dict:
    base = dict.fromkeys(
        ("started", "last_step", "completed", "cancelled", "finally", "request_finished")
    )
    return {
        "id": id_,
        "title": f"the {id_}",
        "verdict": verdict,
        "can_stop": can_stop,
        "seconds_after_leaving": {**base, "started": -0.5, **seconds},
        "client": {"status": None},
    }


def test_a_leak_outweighs_work_that_was_stopped() -> None:
    results = [
        _result("stream", "stopped", True, cancelled=0.1, **{"finally": 0.1}),
        _result("query", "no-cleanup", False, completed=4.5, **{"finally": 4.5}),
    ]
    outcome, summary = judge(results, "asgi")
    assert outcome == "no"
    assert summary.startswith("Leak: request_finished never fired for the query")


def test_work_the_server_could_stop_running_on_is_partial_and_django_s_is_not() -> None:
    only_django = [
        _result("sync", "ran-to-end", False, completed=4.5),
        _result("stream", "stopped", True, cancelled=0.1),
    ]
    assert judge(only_django, "asgi")[0] == "yes"
    server_could = [*only_django[:1], _result("stream", "ran-to-end", True, completed=4.5)]
    outcome, summary = judge(server_could, "asgi")
    assert outcome == "partial"
    assert "the stream (ran to its end, 4.50 s after the client left)" in summary


def test_no_group_holds_more_requests_than_the_server_serves_at_once() -> None:
    assert [len(group) for group in batches(None)] == [3, 1]
    assert [len(group) for group in batches(2)] == [2, 1, 1]
    assert [len(group) for group in batches(1)] == [1, 1, 1, 1]
    assert [group[0].id for group in batches(None)][-1] == "async-view"  # alone, last


def test_the_operations_checks_are_their_group_s_and_last_in_the_matrix() -> None:
    assert client_disconnect.CHECK in CHECKS
    assert all(check.group == GROUP == "Operations" for check in CHECKS)
    assert all_checks()[-len(CHECKS) :] == CHECKS


def test_the_evidence_schema_names_the_verdicts_the_check_gives() -> None:
    schema = load_schema("check-evidence")["$defs"]["checks"]["client-disconnect"]
    scenario = schema["properties"]["scenarios"]["items"]["properties"]
    assert tuple(scenario["verdict"]["enum"]) == VERDICTS
    assert tuple(scenario["decided_by"]["enum"]) == DECIDERS
