"""openload driven for real against tiny servers on 127.0.0.1 (tests/apps/status_line_server.py).

What is asserted are counts, and latencies that follow from a server's deliberate sleeps (a
server that answers one request per 50 ms cannot answer the 40th of a queue sooner than 2 s
after it started): never how fast this machine is.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import pytest

from generators.benchmarks.cells import value_cell
from generators.benchmarks.figure import Figure
from harness.benchmarks.figures import figure_record
from harness.benchmarks.openload.command import OpenloadRequest, openload_command
from harness.benchmarks.openload.records import read_records
from harness.benchmarks.openload.run import run_openload
from harness.benchmarks.tool_process import run_tool
from harness.network import free_port
from tests.benchmarks.test_h2load import STATUS_LINE_SERVER
from tests.conftest import processes_mentioning

MEMORY_SERVER = Path(__file__).parents[1] / "apps" / "memory_server.py"


@pytest.fixture
def status_server(script_server):
    return lambda mode: script_server(STATUS_LINE_SERVER, mode)[0] + "/"


def request_for(url: str, **overrides) -> OpenloadRequest:
    settings = {
        "rate": 100.0,
        "connections": 4,
        "warmup_s": 0.2,
        "duration_s": 1.0,
        "drain_s": 3.0,
        "timeout_s": 3.0,
    }
    return OpenloadRequest(url=url, **{**settings, **overrides})


def test_every_request_due_in_the_window_is_counted_and_answered(status_server, tmp_path: Path):
    measurement = run_openload(request_for(status_server("ok"), rate=200), tmp_path)

    assert measurement.ok, measurement.failure
    result = measurement.details["result"]
    assert result["scheduled"] == 200  # due every 5 ms inside a 1 s window, none twice
    assert result["answered"] == 200
    assert measurement.metrics["requests_total"] == 200
    assert measurement.metrics["failed_percent"] == 0
    assert measurement.metrics["unanswered_percent"] == 0
    assert measurement.metrics["target_requests_per_s"] == 200
    latencies = [measurement.metrics[f"latency_{p}_ms"] for p in ("p50", "p90", "p99", "max")]
    assert latencies == sorted(latencies)
    assert list(tmp_path.glob("openload-*.log")) == []  # the latency log is read and removed


def test_a_server_slower_than_the_rate_is_charged_for_the_queue_it_builds(
    status_server, tmp_path: Path
):
    # 40 requests due a second, one answered per 50 ms: the queue grows by 20 a second.
    request = request_for(status_server("serial"), rate=40, warmup_s=0, drain_s=5, timeout_s=5)

    measurement = run_openload(request, tmp_path)

    assert measurement.ok, measurement.failure
    # A closed loop would time each answer from its send (about 50-200 ms); due-time timing
    # charges the wait: the last request of the window was due at 975 ms and is the 40th in
    # line, so it cannot end before 40 x 50 ms = 2000 ms.
    assert measurement.metrics["latency_max_ms"] >= 2000 - 975
    assert measurement.metrics["held_percent"] <= 55  # at most 20 of 40 a second answered
    assert any("did not hold the rate" in note for note in measurement.details["notes"])


def test_requests_still_unanswered_are_reported_and_their_percentiles_withheld(
    status_server, tmp_path: Path
):
    # Answers for 0.2 s, then never again.
    request = request_for(status_server("stall"), rate=50, warmup_s=0, drain_s=0.5, timeout_s=0.5)

    measurement = run_openload(request, tmp_path)

    assert measurement.ok, measurement.failure
    metrics = measurement.metrics
    # About 10 of the window's 50 requests were answered: the median falls among the others.
    assert metrics["latency_p50_ms"] is None and metrics["latency_max_ms"] is None
    assert metrics["unanswered_percent"] + metrics["failed_percent"] > 50
    record = figure_record(
        "fixed-rate-latency",
        "f",
        {"tool": "openload", "drain_s": 0.5, "duration_s": 1},
        [measurement],
    )
    figure = Figure(record, {"id": "x", "name": "X"}, "m", "c", "standard", "s", False, None, None)
    assert "later than the run waited (0.5 s after its window)" in str(
        value_cell(figure, "latency_p99_ms")
    )


def test_error_statuses_are_failures_not_answers(status_server, tmp_path: Path):
    measurement = run_openload(request_for(status_server("500")), tmp_path)

    assert not measurement.ok
    assert measurement.failure.startswith("nothing was answered: 100 due, 100 with an error status")


def test_a_server_that_closes_every_connection_is_measured_by_reconnecting(
    status_server, tmp_path: Path
):
    measurement = run_openload(request_for(status_server("oneshot")), tmp_path)

    assert measurement.ok, measurement.failure
    assert measurement.details["result"]["answered"] == 100


def test_a_closed_loop_measures_the_highest_rate_and_has_no_target(status_server, tmp_path: Path):
    measurement = run_openload(request_for(status_server("serial"), rate=0), tmp_path)

    assert measurement.ok, measurement.failure
    assert measurement.details["result"]["mode"] == "closed"
    assert "held_percent" not in measurement.metrics
    assert 0 < measurement.metrics["answered_per_s"] <= 21  # one answer per 50 ms at most


def test_nothing_listening_is_a_failed_run_naming_the_connection_attempts(tmp_path: Path):
    url = f"http://127.0.0.1:{free_port()}/"

    measurement = run_openload(request_for(url, drain_s=0.3), tmp_path)

    assert not measurement.ok
    assert "nothing was answered: 100 due" in measurement.failure
    assert "failed connection attempts" in measurement.failure


def test_ctrl_c_kills_openload_and_is_raised_again(status_server, tmp_path: Path):
    request = request_for(status_server("ok"), duration_s=10)
    main = threading.main_thread().ident
    assert main is not None
    interrupt = threading.Timer(0.5, signal.pthread_kill, (main, signal.SIGINT))
    interrupt.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_openload(request, tmp_path)
    finally:
        interrupt.cancel()
    deadline = time.monotonic() + 5
    while (left := processes_mentioning(f"{tmp_path}/")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left
    assert list(tmp_path.glob("openload-*.log")) == []


def test_a_body_size_makes_every_request_an_upload_of_that_many_bytes(
    script_server, tmp_path: Path
):
    # The server answers a POST 200 only when its whole Content-Length body arrived, and a GET
    # of this path 405.
    base_url, _ = script_server(MEMORY_SERVER, "flat")
    request = request_for(base_url + "/echo/count", rate=50, body_bytes=256 * 1024)

    measurement = run_openload(request, tmp_path)

    assert measurement.ok, measurement.failure
    result = measurement.details["result"]
    assert result["body_bytes"] == 256 * 1024
    assert result["answered"] == result["scheduled"] == 50
    assert set(result["statuses"]) == {"200"}
    assert measurement.details["command"][-2:] == ["--body-bytes", str(256 * 1024)]


def test_a_negative_body_size_is_refused():
    with pytest.raises(ValueError, match="body_bytes"):
        request_for("http://127.0.0.1:1/", body_bytes=-1)


def test_only_plain_http_urls_are_accepted():
    with pytest.raises(ValueError, match="http:// URL"):
        request_for("https://127.0.0.1:1/")


def test_records_follow_every_request_due_in_the_window(status_server, tmp_path: Path):
    # Answers for 0.2 s, then never again: answered, timed-out and unanswered requests.
    request = request_for(status_server("stall"), rate=50, warmup_s=0, drain_s=0.5, timeout_s=0.5)
    records_path = tmp_path / "records.txt"
    before_ms = time.time() * 1000

    finished = run_tool(openload_command(request, tmp_path / "latencies.log", records_path), 30)

    result = json.loads(finished.stdout.strip().splitlines()[-1])
    records = read_records(records_path)
    assert len(records) == result["scheduled"] == 50
    outcomes = [record.outcome for record in records]
    assert outcomes.count("200") == result["answered"] > 0
    assert outcomes.count("timed_out") == result["timed_out"]
    assert outcomes.count("unanswered") == result["unanswered"]
    assert set(outcomes) <= {"200", "timed_out", "unanswered"}
    for record in records:
        assert 0 <= record.due_ms < 1000
        if record.sent_ms is not None:
            assert record.sent_ms >= record.due_ms
        if record.done_ms is not None:
            assert record.sent_ms is not None and record.done_ms >= record.sent_ms
    # The window began on the wall clock after the tool was started.
    assert result["window_start_unix_ms"] >= before_ms
