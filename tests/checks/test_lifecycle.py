"""The Lifecycle checks tell a clean start from a traceback or a lifespan warning, and a
graceful stop from one that cuts the request in flight or never exits
(tests/apps/lifecycle_server.py, synthetic); and agree with Django's runserver (end to end)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from harness.checks import CheckContext, run_check
from harness.checks import lifecycle as lifecycle_module
from harness.checks.lifecycle import CHECKS, classify_log, judge_lifespan, judge_shutdown
from harness.definitions import ServerDefinition
from harness.endpoints import load_endpoints
from harness.environments import Environment
from harness.launcher import Launcher
from harness.network import make_tls_material
from harness.profiles import PROFILES
from tests import synthetic

LIFESPAN, SHUTDOWN = CHECKS
APP = Path(__file__).parents[1] / "apps" / "lifecycle_server.py"
# The stubborn server ignores SIGTERM, so the launcher's own stop would wait its whole grace.
PROFILE = replace(PROFILES["quick"], stop_grace_s=2)


def tiny_definition(mode: str) -> ServerDefinition:
    return synthetic.definition(
        f"lifecycle-{mode}",
        name=f"lifecycle server ({mode})",
        interface="asgi",
        docs="http://127.0.0.1/docs",
        commands={"http": ("{python}", str(APP), "{port}", mode)},
    )


@contextmanager
def started(server: ServerDefinition, environment: Environment, scratch: Path) -> Iterator:
    """A CheckContext with the server's shared instance and a launcher for its variants."""
    launcher = Launcher(server, environment, scratch, PROFILE, make_tls_material(scratch / "tls"))
    with launcher.launch("http") as shared:
        yield CheckContext(server, load_endpoints(), PROFILE, shared, launcher)


def run_on_synthetic(tmp_path: Path, mode: str, check) -> dict:
    environment = Environment(Path(sys.prefix), "synthetic", {})
    with started(tiny_definition(mode), environment, tmp_path / mode) as context:
        return run_check(check, context)


@pytest.mark.parametrize(
    ("mode", "outcome", "words"),
    [
        ("clean", "yes", "nothing about lifespan"),
        ("lifespan-info", "yes", "lifespan noted without a warning"),
        ("lifespan-warning", "partial", "lifespan warning"),
        ("traceback", "no", "traceback"),
    ],
)
def test_lifespan_outcome_follows_the_start_up_log(
    tmp_path: Path, mode: str, outcome: str, words: str
) -> None:
    result = run_on_synthetic(tmp_path, mode, LIFESPAN)
    assert result["outcome"] == outcome, result["summary"]
    assert words in result["summary"]
    assert "lifecycle_server listening" in result["evidence"]["startup_log"]


@pytest.mark.parametrize(
    ("mode", "outcome", "status", "exited"),
    [
        ("graceful", "yes", 200, True),
        ("abrupt", "no", None, True),
        ("stubborn", "partial", 200, False),
    ],
)
def test_shutdown_outcome_follows_what_happens_to_the_request_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, outcome: str, status, exited: bool
) -> None:
    monkeypatch.setattr(lifecycle_module, "BOUND_S", 4.0)  # the stubborn one never exits
    result = run_on_synthetic(tmp_path, mode, SHUTDOWN)
    evidence = result["evidence"]
    assert result["outcome"] == outcome, result["summary"]
    assert evidence["signal"] == "SIGTERM"
    assert evidence["request"]["status"] == status
    assert (evidence["exit_code"] is not None) is exited
    if exited:
        assert evidence["exited_after_signal_s"] < 4.0


@pytest.mark.servers
def test_runserver_starts_quietly_and_cuts_the_request_in_flight(
    tmp_path: Path, runserver: tuple[ServerDefinition, Environment]
) -> None:
    server, environment = runserver
    with started(server, environment, tmp_path) as context:
        lifespan = run_check(LIFESPAN, context)
        shutdown = run_check(SHUTDOWN, context)
    assert lifespan["outcome"] == "yes", lifespan["summary"]
    # The autoreloader's parent SIGKILLs the serving child when it gets SIGINT (RESEARCH.md).
    assert shutdown["outcome"] == "no", shutdown["summary"]
    assert shutdown["evidence"]["signal"] == "SIGINT"


def test_log_rules() -> None:
    hypercorn = "[2026] [1] [WARNING] ASGI Framework Lifespan error, continuing without Lifespan"
    lines = classify_log(hypercorn + "\n[INFO] Running on http://127.0.0.1:1\n", "")
    assert lines["error_lines"] == []  # "Lifespan error" inside a WARNING is not an error line
    assert judge_lifespan(lines) == "partial"
    later = classify_log("*** WARNING: you are running uWSGI as root !!!\n", "")
    assert judge_lifespan(later) == "yes"  # warnings that are not about lifespan do not count
    assert judge_lifespan(classify_log("ERROR: boom\n", "")) == "no"
    assert judge_lifespan(classify_log("", "INFO lifespan unsupported\nERROR later\n")) == "yes"
    assert judge_shutdown(200, finished=True, exited=True) == "yes"
    assert judge_shutdown(200, finished=True, exited=False) == "partial"
    assert judge_shutdown(None, finished=True, exited=True) == "no"
    assert judge_shutdown(None, finished=False, exited=False) == "no"
    assert judge_shutdown(502, finished=True, exited=True) == "no"
