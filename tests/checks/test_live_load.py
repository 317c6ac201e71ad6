"""The live-load checks against tests/apps/prefork_server.py, a tiny master that forks workers:
one that replaces a killed worker and one that never does, one whose reload drops what its old
workers had in flight and one whose reload lets them finish, and one that serves in its
master. The load is seconds long here (``short_load``); what is asserted are outcomes and
counts that follow from what each server does, never timings of this machine."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from evidence.schema import load_schema, schema_errors
from harness.checks import Check, CheckContext, run_check
from harness.checks.operations import (
    graceful_reload,
    held_connections,
    live_load,
    worker_exit,
    worker_kill,
    worker_recycling,
)
from harness.definitions import Operations, Production, ServerDefinition
from harness.endpoints import load_endpoints
from harness.environments import Environment
from harness.launcher import Launcher
from harness.network import make_tls_material
from harness.profiles import PROFILES
from tests import synthetic

APP = Path(__file__).parents[1] / "apps" / "prefork_server.py"
PROFILE = PROFILES["quick"]


@pytest.fixture(autouse=True)
def short_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seconds instead of the capture's load; the rule is unchanged."""
    shape = live_load.LoadShape(
        probe_s=0.5,
        warmup_s=0.3,
        event_at_s=1.5,
        after_s=3.0,
        around_s=1.0,
        timeout_s=1.5,
        drain_s=1.5,
        tail_s=0.75,
    )
    monkeypatch.setattr(live_load, "SHAPE", shape)


HUP = Operations("SIGHUP", "http://127.0.0.1/signals", "HUP replaces the workers.")
RECYCLES = Operations(
    None,
    "http://127.0.0.1/signals",
    "No reload.",
    ("--max-requests", "{max_requests}", "--jitter", "{jitter}"),
    "http://127.0.0.1/max-requests",
    "A worker retires after --max-requests.",
)


def prefork(behaviour: str, workers: int = 2, **fields: Any) -> ServerDefinition:
    """The tiny server in one of its modes (tests/apps/prefork_server.py), as a definition."""
    return synthetic.definition(
        f"prefork-{behaviour}",
        name=f"prefork_server.py ({behaviour})",
        commands={"http": ("{python}", str(APP), "{port}", behaviour, "{workers}")},
        production=Production(workers_per_cpu=0, workers_plus=workers),
        **fields,
    )


@contextmanager
def started(server: ServerDefinition, scratch: Path) -> Iterator[CheckContext]:
    environment = Environment(Path(sys.prefix), "synthetic", {})
    launcher = Launcher(server, environment, scratch, PROFILE, make_tls_material(scratch / "tls"))
    with launcher.launch("http") as shared:
        yield CheckContext(server, load_endpoints(), PROFILE, shared, launcher)


def run_on(tmp_path: Path, check: Check, server: ServerDefinition) -> dict[str, Any]:
    """The check's result, its evidence checked against its schema."""
    with started(server, tmp_path / server.id) as context:
        result = run_check(check, context)
    document = synthetic.run("live-load-test")
    document["checks"][0] |= {"id": check.id, "evidence": result["evidence"]}
    problems = [line for line in schema_errors(document, "run") if "/evidence" in line]
    assert problems == [], problems
    return result


def test_a_master_that_replaces_a_killed_worker_is_yes(tmp_path: Path) -> None:
    result = run_on(tmp_path, worker_kill.CHECK, prefork("respawn"))

    assert result["outcome"] == "yes", result["summary"]
    evidence = result["evidence"]
    victim = evidence["event"]["victim"]
    assert victim is not None and victim != evidence["event"]["root_pid"]
    assert victim not in [process["pid"] for process in evidence["workers_after"]]
    assert evidence["replacement"]["replaced"] and len(evidence["replacement"]["new"]) == 1
    assert evidence["figures"]["failed_otherwise"] == 0
    # Every request due in the window is accounted for, one way or another.
    windows = evidence["figures"]["windows"]
    assert sum(window["due"] for window in windows) == evidence["figures"]["due"] > 0
    assert evidence["held"]["websocket"]["fate"] == "not-served"
    if evidence["event"]["holders"]["sse"] != victim:
        assert evidence["held"]["sse"]["fate"] == "kept"
    assert "replaced" in result["summary"]


def test_a_master_that_never_replaces_a_killed_worker_is_no(tmp_path: Path) -> None:
    result = run_on(tmp_path, worker_kill.CHECK, prefork("never"))

    assert result["outcome"] == "no", result["summary"]
    assert result["summary"].startswith("The killed worker"), result["summary"]
    replacement = result["evidence"]["replacement"]
    assert not replacement["replaced"]
    assert replacement["count_after"] == replacement["count_before"] - 1


def test_a_server_that_answers_from_its_own_process_has_no_worker_to_kill(
    tmp_path: Path,
) -> None:
    result = run_on(tmp_path, worker_kill.CHECK, prefork("single"))

    assert result["outcome"] == "not-applicable", result["summary"]
    assert result["evidence"]["event"]["victim"] is None
    assert "no separate worker processes" in result["summary"]


def test_a_development_server_is_not_applicable_without_a_load(tmp_path: Path) -> None:
    result = run_on(tmp_path, worker_kill.CHECK, prefork("respawn", mode="development"))

    assert result["outcome"] == "not-applicable", result["summary"]
    assert "rate_per_s" not in result["evidence"]  # no load was run


def test_the_held_connections_fates_are_the_schemas() -> None:
    schema = load_schema("check-evidence")["$defs"]["live_load_held"]
    assert tuple(schema["properties"]["fate"]["enum"]) == held_connections.FATES


def test_a_reload_that_lets_old_workers_finish_is_yes(tmp_path: Path) -> None:
    result = run_on(tmp_path, graceful_reload.CHECK, prefork("graceful", operations=HUP))

    assert result["outcome"] == "yes", result["summary"]
    evidence = result["evidence"]
    assert evidence["event"]["signal"] == "SIGHUP"
    assert evidence["replacement"]["replaced"] and evidence["replacement"]["new"]
    assert evidence["figures"]["failed"] == 0
    # The old worker that served the stream ended it with its last chunk.
    assert evidence["held"]["sse"]["fate"] == "ended-cleanly"
    assert result["summary"].startswith("Reloaded by SIGHUP")


def test_a_reload_that_kills_old_workers_drops_requests_and_is_partial(tmp_path: Path) -> None:
    result = run_on(tmp_path, graceful_reload.CHECK, prefork("drop", operations=HUP))

    assert result["outcome"] == "partial", result["summary"]
    evidence = result["evidence"]
    assert evidence["replacement"]["replaced"]
    # Killed with the stream open: it ends without its last chunk (closed, or reset when
    # unread data was left).
    assert evidence["held"]["sse"]["fate"] in ("closed", "reset")
    assert f"the SSE stream was {evidence['held']['sse']['fate']}" in result["summary"]


def test_a_reload_that_replaces_only_one_worker_is_no(tmp_path: Path) -> None:
    result = run_on(tmp_path, graceful_reload.CHECK, prefork("halfway", operations=HUP))

    assert result["outcome"] == "no", result["summary"]
    assert result["summary"].startswith("Not reloaded by the end of the run after SIGHUP")
    assert len(result["evidence"]["replacement"]["started"]) == 1


def test_a_server_that_ignores_the_signal_is_named_as_still_answering(tmp_path: Path) -> None:
    result = run_on(tmp_path, graceful_reload.CHECK, prefork("single", operations=HUP))

    assert result["outcome"] == "no", result["summary"]
    (pid,) = result["evidence"]["replacement"]["workers_before"]
    # The one process holds both held connections, so it is draining, not "still there": the
    # summary names it from the probes that it answered after the signal too.
    assert f"({pid}), still answering after it: {pid}; new processes 0" in result["summary"]


def test_a_server_without_a_reload_signal_says_so_with_its_page(tmp_path: Path) -> None:
    none = Operations(None, "http://127.0.0.1/no-reload", "It has no reload signal.")
    result = run_on(tmp_path, graceful_reload.CHECK, prefork("respawn", operations=none))

    assert result["outcome"] == "no", result["summary"]
    assert result["summary"] == (
        "No reload mechanism: It has no reload signal. (http://127.0.0.1/no-reload)"
    )


@pytest.fixture
def few_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers retire after 50 requests, so that each does within the short load."""
    monkeypatch.setattr(worker_recycling, "request_count", lambda maximum, workers: (50, 12))


@pytest.mark.usefixtures("few_requests")
def test_workers_that_retire_gracefully_recycle_without_a_failure(tmp_path: Path) -> None:
    result = run_on(tmp_path, worker_recycling.CHECK, prefork("graceful", operations=RECYCLES))

    assert result["outcome"] == "yes", result["summary"]
    evidence = result["evidence"]
    assert evidence["recycle_args"] == ["--max-requests", "50", "--jitter", "12"]
    assert evidence["recycles"]["gone"] and evidence["figures"]["failed"] == 0
    assert "--max-requests" in " ".join(evidence["instance"]["command"])


@pytest.mark.usefixtures("few_requests")
def test_workers_that_exit_at_their_limit_drop_requests_and_are_partial(tmp_path: Path) -> None:
    result = run_on(tmp_path, worker_recycling.CHECK, prefork("drop", operations=RECYCLES))

    assert result["outcome"] == "partial", result["summary"]
    assert result["evidence"]["recycles"]["gone"]
    assert result["evidence"]["figures"]["failed"] > 0


def test_a_server_without_recycling_says_so_with_its_page(tmp_path: Path) -> None:
    result = run_on(tmp_path, worker_recycling.CHECK, prefork("respawn", operations=HUP))

    assert result["outcome"] == "no", result["summary"]
    assert result["summary"].startswith("No request-count recycling:")


def test_a_worker_that_exits_by_itself_and_is_replaced_is_yes(tmp_path: Path) -> None:
    result = run_on(tmp_path, worker_exit.CHECK, prefork("respawn"))

    assert result["outcome"] == "yes", result["summary"]
    event = result["evidence"]["event"]
    assert event["victim"] in event["exited"]
    assert event["request"] != "HTTP 404"  # the view was on for this instance
    assert "exited by itself" in result["summary"]


def test_a_worker_that_exits_by_itself_and_is_never_replaced_is_no(tmp_path: Path) -> None:
    result = run_on(tmp_path, worker_exit.CHECK, prefork("never"))

    assert result["outcome"] == "no", result["summary"]
    assert result["summary"].startswith("The exited worker"), result["summary"]


@pytest.mark.usefixtures("few_requests")
def test_a_single_process_that_retires_at_its_limit_is_no(tmp_path: Path) -> None:
    result = run_on(tmp_path, worker_recycling.CHECK, prefork("single", operations=RECYCLES))

    assert result["outcome"] == "no", result["summary"]
    assert result["summary"].startswith(("The server exited", "The server stopped answering"))
