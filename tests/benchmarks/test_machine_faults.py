"""A figure that failed for a reason of the machine (PostgreSQL could not start, ...) is
recorded as the machine's fault, listed by the capture, and never blamed on the server."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest

from evidence.schema import schema_errors
from generators.benchmarks.cells import failure_cell, value_cell
from generators.benchmarks.figure import Figure
from harness import postgres
from harness.benchmarks.capture import machine_failures
from harness.benchmarks.measurement import Measurement, summarise
from harness.benchmarks.pinning import Pinning
from harness.benchmarks.scenarios.locust_polls import ARTICLE_FIGURE, POOLED_FIGURE, article_polls
from harness.benchmarks.settings import BENCHMARK_SETTINGS
from tests import synthetic


def test_a_machine_failure_outweighs_the_server_s_in_a_figure() -> None:
    figure = summarise(
        [Measurement(failure="the server exited"), Measurement(failure="x", failed_by="machine")]
    )
    assert figure["failed_by"] == "machine"
    assert summarise([Measurement(failure="the server exited")])["failed_by"] == "server"
    assert "failed_by" not in summarise([Measurement(metrics={"requests_per_s": 1.0})])


@pytest.mark.skipif(postgres.find_bin_dir() is None, reason="PostgreSQL is not installed")
def test_postgresql_on_a_taken_port_fails_the_polls_figure_by_the_machine_s_fault(
    monkeypatch,
) -> None:
    # Everything up to the server is real; PostgreSQL fails before the server is started, so
    # the bench needs only what the scenario reads first.
    figures: list[dict] = []
    settings = BENCHMARK_SETTINGS["quick"]
    bench = SimpleNamespace(
        settings=settings,
        pinning=Pinning(None, None),
        add=figures.append,
        # A configuration that runs both connection setups, so both figures must fail so.
        definition=synthetic.definition(settings.polls_unpooled_servers[0]),
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setattr(postgres, "free_port", lambda: taken.getsockname()[1])
        article_polls(bench)  # type: ignore[arg-type]

    assert sorted(figure["figure"] for figure in figures) == [ARTICLE_FIGURE, POOLED_FIGURE]
    for figure in figures:
        assert figure["status"] == "failed"
        assert figure["failed_by"] == "machine"
        assert "Address already in use" in figure["failure"]
    listed = machine_failures("good", {"results": figures})
    assert sorted(listed) == [
        f"good (benchmarks): {name}" for name in (ARTICLE_FIGURE, POOLED_FIGURE)
    ]
    for why in listed.values():
        assert why.startswith("the machine's fault: PostgreSQL could not be started")


def test_the_page_says_not_measured_by_the_machine_s_fault_not_failed() -> None:
    reason = "PostgreSQL could not be started: could not bind: Address already in use"
    record = synthetic.figure("locust-polls", ARTICLE_FIGURE, {}, failure=reason)
    record["failed_by"] = "machine"
    figure = Figure(record, {"id": "x", "name": "X"}, "m", "c", "quick", "s", False, None, None)

    assert str(failure_cell(figure)).startswith("**not measured: the machine's fault**: ")
    assert "Address already in use" in str(failure_cell(figure))
    assert str(value_cell(figure, "answered_per_s")) == "not measured"
    server_fault = Figure(
        synthetic.figure("locust-polls", ARTICLE_FIGURE, {}, failure="the server exited"),
        *(figure.server, "m", "c", "quick", "s", False, None, None),
    )
    assert str(failure_cell(server_fault)).startswith("**failed**: ")


def test_failed_by_is_optional_and_bounded_in_the_schema() -> None:
    def errors(figure: dict) -> list[str]:
        document = synthetic.benchmark(results=[figure])
        return [error for error in schema_errors(document, "benchmark") if "results" in error]

    failed = synthetic.figure("h2load", "x", {}, failure="nginx could not be started")
    assert failed["failed_by"] == "server"
    assert errors(failed) == []
    assert errors({key: value for key, value in failed.items() if key != "failed_by"}) == []
    (wrong,) = errors({**failed, "failed_by": "nobody"})
    assert "failed_by" in wrong
