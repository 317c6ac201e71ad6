"""The long-work check against the sample project's real application under tiny servers that
serve long work fully, cut it after a timeout, or serve one request at a time
(tests/apps/long_work_wsgi.py; disconnect_asgi.py for ASGI), with the minute of work
shortened, and its verdicts from what the clients saw."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from evidence.schema import load_schema, schema_errors
from harness.checks import CheckContext, run_check
from harness.checks.operations import CHECKS, long_work
from harness.checks.operations.long_work import judge, log_cues, options_left
from harness.checks.operations.long_work_clients import ENDS
from harness.definitions import OptionVariant, ServerDefinition
from tests import synthetic
from tests.checks.project_servers import project_server

APPS = Path(__file__).parents[1] / "apps"
WSGI_APP = APPS / "long_work_wsgi.py"
ASGI_APP = APPS / "disconnect_asgi.py"
# Work of 2.5 s instead of a minute: the tiny server that cuts does so after 1 s, long after a
# short request is answered and long before the work ends.
SHORT_WORK_S = 2.5
CUT_AFTER = "1"

Start = Callable[..., CheckContext]


def timeout_option(command: tuple[str, ...]) -> OptionVariant:
    return OptionVariant(
        "timeout-raised",
        "--timeout 120",
        "https://example.org/docs#timeout",
        (long_work.CHECK_ID,),
        {"http": command},
    )


@pytest.fixture
def tiny_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Start]:
    """Start a tiny server around the real project, the way the harness starts servers (in
    sampleproject/, with a scratch SQLite file and state dir)."""
    monkeypatch.setattr(long_work, "LONG_WORK_S", SHORT_WORK_S)
    with ExitStack() as stack:

        def start(
            command: tuple[str, ...],
            interface: str = "wsgi",
            options: dict[str, OptionVariant] | None = None,
        ) -> CheckContext:
            name = f"long-{interface}-{'-'.join(command[3:])}"
            definition = synthetic.definition(
                name, interface=interface, commands={"http": command}, options=options or {}
            )
            scratch = tmp_path / name
            scratch.mkdir()
            return project_server(stack, definition, scratch)

        yield start


def wsgi(mode: str, *extra: str) -> tuple[str, ...]:
    return (sys.executable, str(WSGI_APP), "{port}", mode, *extra)


def assert_valid(result: dict) -> None:
    run = synthetic.run()
    run["checks"] = [result]
    assert schema_errors(run, "run") == []


def test_a_server_that_serves_long_work_fully_is_yes(tiny_server: Start) -> None:
    result = run_check(long_work.CHECK, tiny_server(wsgi("serves")))
    assert result["outcome"] == "yes", result["summary"]
    evidence = result["evidence"]
    assert evidence["request"]["ran_to_end"] and evidence["request"]["status"] == 200
    assert evidence["request"]["view"] == {
        "started": True,
        "steps": long_work.TICKS,
        "completed": True,
        "finally": True,
    }
    assert evidence["stream"]["events"] == long_work.TICKS + 1
    assert evidence["stream"]["path"] == "/sse/sync"  # the WSGI idiom
    shorts = evidence["short_requests"]
    assert shorts["sent"] >= 1 and shorts["failed"] == 0
    assert_valid(result)


def test_an_asgi_server_streams_the_async_idiom_to_its_end(tiny_server: Start) -> None:
    command = (sys.executable, str(ASGI_APP), "{port}", "signals")
    result = run_check(long_work.CHECK, tiny_server(command, interface="asgi"))
    assert result["outcome"] == "yes", result["summary"]
    assert result["evidence"]["stream"]["path"] == "/sse"
    assert result["evidence"]["stream"]["events"] == long_work.TICKS + 1


def test_work_cut_by_a_timeout_the_server_lets_one_raise_is_partial(tiny_server: Start) -> None:
    options = {"timeout-raised": timeout_option(wsgi("serves"))}
    result = run_check(long_work.CHECK, tiny_server(wsgi("cuts", CUT_AFTER), options=options))
    assert result["outcome"] == "partial", result["summary"]
    assert result["cause"] == "server"
    evidence = result["evidence"]
    request, stream = evidence["request"], evidence["stream"]
    assert request["ended"] == "closed-before-answer" and request["status"] is None
    assert not stream["ran_to_end"] and stream["events"] < long_work.TICKS + 1
    # The view itself went on: the server closed the connection, not the work.
    assert request["view"]["completed"] is True
    assert set(evidence["log_cues"]) == {"request timed out after 1 s"}  # request and stream
    assert evidence["options_left"] == ["timeout-raised"]
    assert "the server logged: request timed out after 1 s" in result["summary"]
    assert result["summary"].endswith("tried as an option: --timeout 120.")
    assert_valid(result)


def test_work_cut_with_no_setting_to_raise_is_no(tiny_server: Start) -> None:
    result = run_check(long_work.CHECK, tiny_server(wsgi("cuts", CUT_AFTER)))
    assert result["outcome"] == "no", result["summary"]
    assert result["summary"].startswith(f"The {SHORT_WORK_S:g} s request was cut")
    assert "No documented setting to raise it is declared." in result["summary"]


def test_a_server_that_starves_short_requests_is_no(
    tiny_server: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One request at a time: a short request waits behind the long one, longer than this.
    monkeypatch.setattr(long_work, "SHORT_TIMEOUT_S", 1.0)
    result = run_check(long_work.CHECK, tiny_server(wsgi("starves")))
    assert result["outcome"] == "no", result["summary"]
    assert result["summary"].startswith("Short requests starved while the long work ran")
    shorts = result["evidence"]["short_requests"]
    assert shorts["failed"] >= 1
    assert {failure["ended"] for failure in shorts["failures"]} == {"timed-out"}
    assert_valid(result)


def definition_with(option: OptionVariant) -> ServerDefinition:
    return synthetic.definition(
        "gunicorn-like",
        commands={"http": ("server", "--port", "{port}")},
        options={option.id: option},
    )


def test_an_option_the_server_already_runs_with_is_not_left_to_raise() -> None:
    option = timeout_option(("server", "--port", "{port}", "--timeout", "120"))
    definition = definition_with(option)
    assert options_left(definition) == [option]
    assert options_left(definition.with_option(option.id)) == []


def piece(ran: bool, ended: str = "complete", **fields: object) -> dict:
    return {
        "ran_to_end": ran,
        "ended": ended,
        "ended_after_s": 60.0 if ran else 31.0,
        "status": 200 if ran else None,
        "events": 61 if ran else 31,
        **fields,
    }


def shorts(sent: int, failed: int) -> dict:
    return {"sent": sent, "failed": failed, "worst_latency_s": 0.01 if not failed else 5.0}


def test_starved_short_requests_outweigh_everything_else() -> None:
    option = timeout_option(("x",))
    outcome, summary = judge(piece(True), piece(True), shorts(120, 3), [], [option], 61)
    assert outcome == "no"
    assert "3 of 120 failed" in summary
    outcome, _ = judge(piece(True), piece(True), shorts(0, 0), [], [], 61)
    assert outcome == "no"  # not one short request was sent: nothing says they were answered


def test_a_cut_is_partial_only_with_a_setting_left_to_raise() -> None:
    cut = piece(False, "closed-before-answer")
    option = timeout_option(("x",))
    assert judge(cut, piece(True), shorts(60, 0), [], [option], 61)[0] == "partial"
    outcome, summary = judge(piece(True), piece(False, "truncated"), shorts(60, 0), [], [], 61)
    assert outcome == "no"
    assert summary.startswith("The stream was cut after 31.0 s (the body was truncated, 31 of 61")
    assert judge(piece(True), piece(True), shorts(120, 0), [], [], 61)[0] == "yes"
    # Run again with the option and still cut: no setting is left to raise.
    outcome, summary = judge(cut, piece(True), shorts(60, 0), [], [], 61, [option])
    assert outcome == "no"
    assert summary.endswith(
        "ran with the documented setting that raises the timeout: --timeout 120."
    )


def test_the_log_lines_that_name_a_timeout_are_quoted() -> None:
    log = (
        "[INFO] Booting worker with pid: 12\n"
        "[CRITICAL] WORKER TIMEOUT (pid:12)\n"
        "[ERROR] Worker (pid:12) was sent SIGKILL! Perhaps out of memory?\n"
        "[INFO] Booting worker with pid: 13\n"
        '  File "/srv/ops-timeouts/gunicorn/workers/base.py", line 200, in handle_abort\n'
    )
    assert log_cues(log) == [
        "[CRITICAL] WORKER TIMEOUT (pid:12)",
        "[ERROR] Worker (pid:12) was sent SIGKILL! Perhaps out of memory?",
    ]


def test_the_check_is_an_operations_check_and_the_schema_names_its_ends() -> None:
    assert long_work.CHECK in CHECKS
    schema = load_schema("check-evidence")["$defs"]["checks"][long_work.CHECK_ID]
    assert tuple(schema["properties"]["request"]["properties"]["ended"]["enum"]) == ENDS
    assert tuple(schema["properties"]["stream"]["properties"]["ended"]["enum"]) == ENDS
