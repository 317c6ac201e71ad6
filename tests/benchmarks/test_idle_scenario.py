"""The idle-connections scenario: which stream each interface is held with, what its figures
record of how they were measured, and a machine whose open-files limit is too low."""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any

import pytest

from harness.benchmarks.measurement import Measurement
from harness.benchmarks.open_files import TooFewOpenFiles
from harness.benchmarks.settings import BENCHMARK_SETTINGS
from harness.endpoints import load_endpoints
from tests import synthetic

# The module (the package's name of the same spelling is the scenario function).
scenario = importlib.import_module("harness.benchmarks.scenarios.idle_connections")


def _bench(interface: str) -> SimpleNamespace:
    figures: list[dict] = []
    return SimpleNamespace(
        definition=synthetic.definition(f"idle-{interface}", interface=interface),
        settings=BENCHMARK_SETTINGS["standard"],
        endpoints=load_endpoints(),
        figures=figures,
        add=figures.append,
        common_params=lambda: {"workers": 1},
    )


@pytest.fixture
def holds(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Each hold the scenario asks for, answered with a stand-in measurement."""
    calls: list[dict[str, Any]] = []

    def hold_once(bench, kind: str, path: str, fresh_path: str) -> Measurement:
        calls.append({"kind": kind, "path": path, "fresh_path": fresh_path})
        return Measurement(metrics={"connections_still_open": 7})

    monkeypatch.setattr(scenario, "_hold_once", hold_once)
    monkeypatch.setattr(scenario, "ensure_open_files", lambda needed: needed)
    return calls


def test_a_wsgi_server_is_held_with_the_sync_stream_that_holds_a_thread(holds) -> None:
    bench = _bench("wsgi")
    scenario.idle_connections(bench)
    assert holds == [{"kind": "sse", "path": "/sse/sync", "fresh_path": "/json/sync"}]
    (figure,) = bench.figures
    settings = bench.settings
    assert figure["params"]["generator"] == "sync"
    assert figure["params"]["open_files_limit"] == settings.idle_bound + 1000
    assert figure["params"]["stall_s"] == settings.idle_stall_s
    assert len(figure["repeats"]) == settings.idle_repeats


def test_an_asgi_server_is_held_with_async_streams_and_websockets(holds) -> None:
    bench = _bench("asgi")
    scenario.idle_connections(bench)
    assert [(call["kind"], call["path"]) for call in holds] == [
        ("sse", "/sse"),
        ("websocket", "/ws/echo"),
    ]
    assert {call["fresh_path"] for call in holds} == {"/json/async"}
    sse, websocket = bench.figures
    assert sse["params"]["generator"] == "async"
    assert "generator" not in websocket["params"]


def test_too_low_a_hard_limit_of_open_files_fails_the_figures_by_the_machine(
    holds, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(needed: int) -> int:
        raise TooFewOpenFiles(f"{needed} open files are needed, but the hard limit is 1024")

    monkeypatch.setattr(scenario, "ensure_open_files", refuse)
    bench = _bench("asgi")
    scenario.idle_connections(bench)
    assert holds == []
    assert [figure["status"] for figure in bench.figures] == ["failed", "failed"]
    assert all(figure["failed_by"] == "machine" for figure in bench.figures)
    assert "hard limit is 1024" in bench.figures[0]["failure"]
