"""Locust driven for real against real servers on 127.0.0.1, with short steps.

The servers are tests/apps/tiny_http.py (synthetic) and the sample project under runserver.
Nothing here asserts a timing: only what was counted and how the figures relate.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from evidence.metrics import lookup
from harness.benchmarks.cpu import CpuSampler
from harness.benchmarks.locust import run as locust_run
from harness.benchmarks.locust.command import (
    LOCUSTFILES,
    LocustRequest,
    locust_command,
    locust_version,
)
from harness.benchmarks.locust.run import run_locust
from harness.benchmarks.locust.stats import STEP_METRIC_NAMES
from harness.benchmarks.scenarios.locust_common import add_cpu_per_step
from harness.network import free_port
from harness.process import ServerProcess
from tests.conftest import TINY_HTTP, processes_mentioning

SAMPLEPROJECT = Path(__file__).resolve().parents[2] / "sampleproject"


def assert_nothing_left(marker: Path) -> None:
    """No Locust process (master or worker) whose command line names this test's files."""
    deadline = time.monotonic() + 5
    while (left := processes_mentioning(f"{marker}/")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, [process.info["cmdline"] for process in left]


def step_records(measurement) -> dict[int, dict]:
    return {record["users"]: record for record in measurement.details["steps"]}


@pytest.mark.parametrize("processes", [1, 2])
def test_every_step_gets_its_own_figures(tiny_server, tmp_path: Path, processes: int) -> None:
    base_url, _ = tiny_server("threaded")
    request = LocustRequest(
        LOCUSTFILES / "ceiling.py", base_url, ((2, 1.0), (4, 2.0)), processes=processes
    )

    measurement = run_locust(request, tmp_path / "locust")

    assert measurement.ok, measurement.failure
    metrics, steps = measurement.metrics, step_records(measurement)
    assert measurement.details["step_files"] == processes  # one file per worker, added up
    for users in (2, 4):
        for name in STEP_METRIC_NAMES:
            assert f"step{users}_{name}" in metrics
        step = steps[users]
        assert step["requests"] > 0
        assert step["failures"] == 0
        assert step["answered_per_s"] == pytest.approx(step["answered"] / step["ran_s"], 1e-3)
        assert metrics[f"step{users}_answered_per_s"] == step["answered_per_s"]
    late = metrics["requests_total"] - steps[2]["requests"] - steps[4]["requests"]
    assert late >= 0
    in_steps = metrics["requests_total"] - late
    ran_s = steps[2]["ran_s"] + steps[4]["ran_s"]
    assert metrics["answered_per_s"] == pytest.approx(in_steps / ran_s, 1e-3)  # none failed
    assert metrics["failures_percent"] == 0
    assert metrics["highest_ok_users"] == 4
    assert metrics["max_step_answered_per_s"] == max(s["answered_per_s"] for s in steps.values())
    assert metrics["latency_min_ms"] <= metrics["latency_p50_ms"] <= metrics["latency_max_ms"]
    assert measurement.details["locust_version"] == locust_version()
    assert ("--processes" in measurement.details["command"]) == (processes > 1)
    assert_nothing_left(tmp_path)


def test_a_server_that_answers_500_fails_every_step(tiny_server, tmp_path: Path) -> None:
    base_url, _ = tiny_server("broken-sleep")  # /sleep?seconds=S with S > 0 answers 500
    request = LocustRequest(
        LOCUSTFILES / "upstream.py",
        base_url,
        ((2, 1.0), (3, 1.0)),
        env={"SERVING_DJANGO_PATH": "/sleep?seconds=0.01"},
    )

    measurement = run_locust(request, tmp_path / "locust")

    assert measurement.ok, measurement.failure  # failed requests are figures, not a failed run
    assert measurement.metrics["requests_total"] > 0
    assert measurement.metrics["failures_percent"] == 100
    assert measurement.metrics["step2_failures_percent"] == 100
    assert measurement.metrics["highest_ok_users"] is None  # no step was clean
    assert list(measurement.details["requests_by_name"]) == ["/sleep?seconds=0.01"]
    assert "500" in measurement.details["failure_messages"][0]["message"]
    assert_nothing_left(tmp_path)


def test_rates_count_answered_requests_only(tiny_server, tmp_path: Path) -> None:
    base_url, _ = tiny_server("half-broken")  # every second request answers 500
    request = LocustRequest(LOCUSTFILES / "ceiling.py", base_url, ((3, 1.5),))

    measurement = run_locust(request, tmp_path / "locust")

    assert measurement.ok, measurement.failure
    step, metrics = step_records(measurement)[3], measurement.metrics
    assert 0 < step["failures"] < step["requests"]
    assert step["answered"] == step["requests"] - step["failures"]
    assert step["answered_per_s"] == pytest.approx(step["answered"] / step["ran_s"], 1e-3)
    assert step["answered_per_s"] < step["finished_per_s"]
    assert metrics["step3_answered_per_s"] == step["answered_per_s"]
    assert metrics["failures_total"] > 0
    assert "requests_per_s" not in metrics  # no rate of sent requests is published
    assert_nothing_left(tmp_path)


def test_a_failing_server_answers_nothing_per_second(tiny_server, tmp_path: Path) -> None:
    base_url, _ = tiny_server("broken-sleep")
    request = LocustRequest(
        LOCUSTFILES / "upstream.py",
        base_url,
        ((2, 1.0),),
        env={"SERVING_DJANGO_PATH": "/sleep?seconds=0.01"},
    )

    metrics = run_locust(request, tmp_path / "locust").metrics

    assert metrics["failures_percent"] == 100
    assert metrics["answered_per_s"] == 0
    assert metrics["max_step_answered_per_s"] == 0


def test_the_ramp_is_kept_apart_and_a_long_timeout_turns_queueing_into_latency(
    tiny_server, tmp_path: Path
) -> None:
    # Two requests at a time, 0.2 s each: at most 10 answers a second, ever. Eight users
    # without a wait queue up; with a timeout far above the queue's wait none fails.
    base_url, _ = tiny_server("two-at-a-time")
    request = LocustRequest(
        LOCUSTFILES / "upstream.py",
        base_url,
        ((8, 3.0),),
        timeout_s=30,
        spawn_rate=8,
        ramp_s=1.0,
        env={"SERVING_DJANGO_PATH": "/sleep?seconds=0.2"},
    )

    measurement = run_locust(request, tmp_path / "locust")

    assert measurement.ok, measurement.failure
    step = step_records(measurement)[8]
    assert step["ramp"]["seconds"] == 1.0
    assert step["ramp"]["requests"] > 0
    assert step["ran_s"] == pytest.approx(2.0, abs=0.01)  # the step's 3 s less its ramp
    assert step["measured_from_s"] == 1.0
    assert step["failures"] == 0
    assert step["answered_per_s"] <= 2 / 0.2  # the server's physical ceiling
    # Queued requests wait for a slot: the median waits longer than the work itself.
    assert step["latency_p50_ms"] > 200
    metrics = measurement.metrics
    in_run = step["requests"] + step["ramp"]["requests"]
    assert metrics["requests_total"] >= in_run  # the whole run: ramp, step and late requests
    assert_nothing_left(tmp_path)


def test_no_rate_counts_answers_that_arrived_after_its_window(tiny_server, tmp_path: Path) -> None:
    """Two requests at a time, 0.2 s each: in any window of T seconds at most 2 x (T / 0.2 + 1)
    answers can arrive (each slot finishes one every 0.2 s, plus one it started before). Users
    without a wait (6, then 12) keep requests queued, which drain after the last step: counted
    by the time they were sent, they raised the run's rate above that bound."""
    base_url, _ = tiny_server("two-at-a-time")
    slots, service_s = 2, 0.2
    request = LocustRequest(
        LOCUSTFILES / "upstream.py",
        base_url,
        ((6, 2.0), (12, 2.0)),
        timeout_s=30,
        spawn_rate=12,
        env={"SERVING_DJANGO_PATH": f"/sleep?seconds={service_s}"},
    )

    measurement = run_locust(request, tmp_path / "locust")

    assert measurement.ok, measurement.failure
    metrics, steps = measurement.metrics, measurement.details["steps"]
    for step in steps:
        bound = slots * (step["ran_s"] / service_s + 1) / step["ran_s"]  # a physical bound
        assert step["answered"] <= slots * (step["ran_s"] / service_s + 1)
        assert step["answered_per_s"] <= bound
    run_s = sum(step["ran_s"] for step in steps)
    assert metrics["answered_per_s"] <= slots * (run_s / service_s + 1) / run_s
    # The queue left at the end is counted, apart from every rate.
    assert metrics["drained_answered"] > 0
    in_steps = sum(step["answered"] + step["ramp"]["requests"] for step in steps)
    assert metrics["requests_total"] == in_steps + metrics["drained_answered"]  # none failed
    assert metrics["answered_per_s"] == pytest.approx(in_steps / run_s, 1e-3)
    assert any("drained after the last step" in note for note in measurement.details["notes"])
    assert_nothing_left(tmp_path)


def test_a_request_counts_in_the_step_its_answer_arrived_in() -> None:
    """The step recorder alone (the locustfiles' shared module), with made-up times, in a
    process of its own: importing Locust patches this one's sockets and threads (gevent)."""
    script = """
import json, _steps
recorder = _steps.StepRecorder()
plan = _steps.Plan(_steps.parse_steps("2:10,4:10"), spawn_rate=4.0, timeout_s=60.0)
recorder.start(plan, started_at=1000.0)
recorder.add(1001.0, "/a", 2000.0, None)  # sent and answered in the first step
recorder.add(1008.0, "/a", 5000.0, None)  # sent in the first, answered in the second
recorder.add(1015.0, "/a", 9000.0, None)  # answered after the last step: drained
recorder.add(1019.0, "/a", 3000.0, "timed out")  # a failure, arrived after the end too
recorder.add(1012.0, "/a", None, "refused")  # no response time: placed at its start
print(json.dumps(recorder.as_record()))
"""
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=LOCUSTFILES,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    record = json.loads(completed.stdout.strip().splitlines()[-1])
    first, second = record["steps"]
    assert (first["requests"], first["failures"]) == (1, 0)
    assert (second["requests"], second["failures"]) == (2, 1)
    assert (record["drained"]["requests"], record["drained"]["failures"]) == (2, 1)
    assert record["schema_version"] == 3


def manage(database: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=SAMPLEPROJECT,
        env=django_environment(database),
        check=True,
        capture_output=True,
    )


def django_environment(database: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "DJANGO_DEV_MODE": "1",
        "SQLITE_PATH": str(database),
        "SAMPLEPROJECT_STATE_DIR": str(database.parent / "state"),
    }


@pytest.fixture
def polls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The sample project under runserver with a fresh database of sample polls."""
    database = tmp_path / "polls.sqlite3"
    manage(database, "migrate", "--verbosity", "0")
    manage(database, "load_polls")
    port = free_port()
    server = ServerProcess(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=SAMPLEPROJECT,
        env=django_environment(database),
        log_path=tmp_path / "runserver.log",
        stop_signal="SIGTERM",
    )
    server.start()
    try:
        base_url = f"http://127.0.0.1:{port}"
        server.wait_ready(base_url + "/polls/1/", timeout_s=30)
        yield base_url, database
    finally:
        server.stop(grace_s=5)


def total_votes(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT SUM(votes) FROM polls_choice").fetchone()[0]


def test_polls_voters_vote(polls_server, tmp_path: Path) -> None:
    base_url, database = polls_server
    before = total_votes(database)
    request = LocustRequest(LOCUSTFILES / "polls.py", base_url, ((3, 2.0), (6, 2.0)))

    measurement = run_locust(request, tmp_path / "locust")

    assert measurement.ok, measurement.failure
    assert measurement.metrics["failures_percent"] == 0, measurement.details["failure_messages"]
    by_name = measurement.details["requests_by_name"]
    assert set(by_name) == {"vote form", "vote"}
    assert by_name["vote"] > 0
    # Every vote answered 302 and was counted by the database.
    assert total_votes(database) - before == by_name["vote"]
    assert_nothing_left(tmp_path)


def test_a_locustfile_that_crashes_at_import_fails_the_run(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text('raise RuntimeError("broken on purpose")\n')
    request = LocustRequest(broken, "http://127.0.0.1:9", ((1, 1.0),))

    measurement = run_locust(request, tmp_path / "locust")

    assert not measurement.ok
    assert "RuntimeError: broken on purpose" in measurement.failure
    assert measurement.metrics == {}
    assert_nothing_left(tmp_path)


def test_a_run_that_overruns_is_killed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(locust_run, "OUTER_TIMEOUT_MARGIN_S", 0.0)
    hanging = tmp_path / "hanging.py"
    hanging.write_text("import time\ntime.sleep(600)\n")
    request = LocustRequest(hanging, "http://127.0.0.1:9", ((1, 1.0),), timeout_s=0.5)

    measurement = run_locust(request, tmp_path / "locust")

    # 1 s of steps + a stop timeout of 1.5 s (0.5 s request timeout + 1 s), no margin: 2.5 s
    assert measurement.failure == "Locust did not finish within 2 s and was killed."
    assert_nothing_left(tmp_path)


def test_ctrl_c_kills_locust_and_its_workers(tiny_server, tmp_path: Path, monkeypatch) -> None:
    base_url, _ = tiny_server("threaded")

    def interrupted(process: ServerProcess, timeout_s: float) -> int | None:
        deadline = time.monotonic() + 20
        while len(processes_mentioning(f"{tmp_path}/")) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)  # until the master has forked both workers
        assert len(processes_mentioning(f"{tmp_path}/")) >= 3
        raise KeyboardInterrupt

    monkeypatch.setattr(locust_run, "wait_for_exit", interrupted)
    request = LocustRequest(LOCUSTFILES / "ceiling.py", base_url, ((2, 30.0),), processes=2)

    with pytest.raises(KeyboardInterrupt):
        run_locust(request, tmp_path / "locust")

    assert_nothing_left(tmp_path)


def test_each_step_needs_its_own_user_count() -> None:
    with pytest.raises(ValueError, match="its own user count"):
        LocustRequest(LOCUSTFILES / "ceiling.py", "http://x", ((5, 1.0), (5, 2.0)))


def test_command_runs_headless_with_a_backstop_run_time(tmp_path: Path) -> None:
    request = LocustRequest(LOCUSTFILES / "polls.py", "http://h", ((50, 4.0), (150, 4.5)))

    command = locust_command(request, tmp_path)

    assert command[:3] == [sys.executable, "-m", "locust"]
    assert {"--headless", "--only-summary"} <= set(command)
    assert command[command.index("-t") + 1] == "14s"  # 8.5 s of steps, rounded up, + 5 s
    assert command[command.index("--stop-timeout") + 1] == "6"  # a 5 s request's timeout + 1 s
    assert "--processes" not in command


def test_locust_started_before_its_server_waits_for_the_cue(tmp_path: Path) -> None:
    """Locust starts while the server is still starting (nothing listens on the port yet);
    it must send nothing until ``measure()``, else its first requests would be refused."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    request = LocustRequest(LOCUSTFILES / "ceiling.py", base_url, ((2, 1.0),))
    scratch = tmp_path / "locust"
    server = ServerProcess(
        [sys.executable, str(TINY_HTTP), str(port), "threaded"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        log_path=tmp_path / "tiny.log",
        stop_signal="SIGTERM",
    )
    with locust_run.started_locust(request, scratch) as started:
        deadline = time.monotonic() + 60
        while "before the first step" not in read_text(scratch / locust_run.LOG_NAME):
            assert time.monotonic() < deadline, read_text(scratch / locust_run.LOG_NAME)
            time.sleep(0.1)
        try:
            server.start()
            server.wait_ready(base_url + "/json/sync", timeout_s=20)
            measurement = started.measure()
        finally:
            server.stop(grace_s=5)

    assert measurement.ok, measurement.failure
    assert measurement.metrics["requests_total"] > 0
    assert measurement.metrics["failures_percent"] == 0
    assert_nothing_left(tmp_path)


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def test_each_step_records_every_cpu_s_busy_share_and_where_each_tree_ran(
    tiny_server, tmp_path: Path
) -> None:
    base_url, server = tiny_server("threaded")
    request = LocustRequest(LOCUSTFILES / "ceiling.py", base_url, ((2, 2.0), (4, 2.0)))
    pids = {"server": server.pid}
    with locust_run.started_locust(request, tmp_path / "locust") as started:
        pids["locust"] = started.process.pid
        # Sampled often enough that each step's window holds two samples on a busy machine.
        with CpuSampler(pids, interval_s=0.1) as cpu:
            affinity = cpu.affinities()
            measurement = started.measure()
    add_cpu_per_step(measurement, cpu)

    assert measurement.ok, measurement.failure
    ours = sorted(os.sched_getaffinity(0))
    assert affinity == {"server": ours, "locust": ours}  # nothing pinned them here
    for users, step in step_records(measurement).items():
        assert [share["cpu"] for share in step["cpus"]] == sorted(cpu.ticks[0][1])
        for share in step["cpus"]:
            name = f"step{users}_cpu{share['cpu']}_busy_percent"
            assert measurement.metrics[name] == share["busy_percent"]
            assert 0 <= share["busy_percent"] + share["steal_percent"] <= 100
            assert lookup(name) is not None  # registered, so a capture can write it
        assert step["server_cpu_percent"] is not None and step["locust_cpu_percent"] > 0
