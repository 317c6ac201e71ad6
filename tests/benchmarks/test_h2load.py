"""h2load driven for real against tiny servers on 127.0.0.1, and its output parsed.

The servers are synthetic: tests/apps/status_line_server.py (hand-written status lines, dropped,
slow, stalled and closed connections), Hypercorn running tests/apps/proto_asgi.py (HTTP/2 in
cleartext and by ALPN) and tests/apps/proto_http11.py (TLS without HTTP/2). Runs are short and
nothing asserts a timing: only what was counted, how the figures relate, and why a run failed.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.benchmarks.h2load import h2load_version
from harness.benchmarks.h2load import run as h2load_run
from harness.benchmarks.h2load.command import H2loadRequest, h2load_command
from harness.benchmarks.h2load.output import (
    RequestLog,
    latency_percentiles_ms,
    parse_summary,
    read_request_log,
    unparsed_status_count,
)
from harness.benchmarks.h2load.run import TIMEOUT_HINT, run_h2load
from harness.benchmarks.h2load.validity import TOO_SHORT, failure_reason, stale_reason
from harness.network import TLSMaterial, free_port, make_tls_material
from harness.process import ServerProcess
from tests.conftest import processes_mentioning

APPS = Path(__file__).parents[1] / "apps"
STATUS_LINE_SERVER = APPS / "status_line_server.py"
HYPERCORN = Path(sys.executable).parent / "hypercorn"

# From RESEARCH.md section 1: a real HTTP/1.1 run with warm-up, with progress chatter.
SUMMARY_SAMPLE = """\
starting benchmark...
spawning thread #0: 2 total client(s). Timing-based test with 1s of warm-up time and 2s of main \
duration for measurements.
progress: 50% of clients started
Main benchmark duration is started for thread #0.
Application protocol: http/1.1
Stopped all clients for thread #0

finished in 3.00s, 15543.00 req/s, 2.22MB/s
requests: 31086 total, 31086 started, 31086 done, 31086 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 31086 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 4.45MB (4662900) total, 4.96MB (5200740) headers (space savings 0.00%), 141.08KB \
(144465) data
                     min         max         mean         sd        +/- sd
time for request:       23us      4.23ms       126us        66us    97.37%
time for connect:        0us         0us         0us         0us     0.00%
"""
# Connection refused: no protocol line, every counter zero.
REFUSED_SAMPLE = """\
Main benchmark duration is over for thread #0. Stopping all clients.
finished in 1.00s, 0.00 req/s, 0B/s
requests: 0 total, 0 started, 0 done, 0 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 0 4xx, 0 5xx
"""


def request_for(url: str, **overrides) -> H2loadRequest:
    """A short HTTP/1.1 run; tests override what they are about."""
    settings = {"clients": 2, "protocol": "http/1.1", "duration_s": 0.5, "warmup_s": 0.1}
    return H2loadRequest(url=url, **{**settings, **overrides})


def assert_no_h2load_left(scratch: Path) -> None:
    """No h2load whose command line names this test's scratch directory (its log file)."""
    deadline = time.monotonic() + 5
    while (left := processes_mentioning(f"{scratch}/")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, [process.info["cmdline"] for process in left]


def assert_failed_without_figures(measurement) -> None:
    assert not measurement.ok
    assert measurement.metrics == {}  # nothing of a failed run can be published
    assert "parsed" in measurement.details


@pytest.fixture
def status_server(script_server):
    """Start status_line_server in a mode; returns the URL h2load should load."""
    return lambda mode: script_server(STATUS_LINE_SERVER, mode)[0] + "/"


# ---- parsing: literal h2load output ------------------------------------------------------------


def test_the_summary_lines_are_parsed_and_the_chatter_ignored() -> None:
    summary = parse_summary(SUMMARY_SAMPLE)

    assert summary.application_protocol == "http/1.1"
    assert summary.tls_protocol is None
    assert summary.elapsed_s == 3.0
    assert summary.requests_per_s == 15543.0
    assert summary.counts == {
        "total": 31086,
        "started": 31086,
        "done": 31086,
        "succeeded": 31086,
        "failed": 0,
        "errored": 0,
        "timeout": 0,
    }
    assert summary.status_codes == {"s2xx": 31086, "s3xx": 0, "s4xx": 0, "s5xx": 0}
    assert summary.lines[0] == "Application protocol: http/1.1"
    assert summary.lines[-1].startswith("time for request:")
    assert not any(line.startswith(("progress", "time for connect")) for line in summary.lines)


@pytest.mark.parametrize(
    ("finished", "seconds"),
    [("552us", 552e-6), ("15.22ms", 15.22e-3), ("3.00s", 3.0)],
)
def test_the_elapsed_time_is_read_in_its_own_unit(finished: str, seconds: float) -> None:
    line = f"finished in {finished}, 10.00 req/s, 1.5KB/s"

    assert parse_summary(line).elapsed_s == pytest.approx(seconds)


def test_a_run_without_a_connection_has_no_protocol_but_a_summary() -> None:
    summary = parse_summary(REFUSED_SAMPLE)

    assert summary.complete
    assert summary.application_protocol is None
    assert summary.counts is not None and summary.counts["done"] == 0


def test_the_request_log_keeps_answered_rows_and_counts_unread_statuses(tmp_path: Path) -> None:
    log_path = tmp_path / "h2load.log"
    log_path.write_text(
        "1795261074751335\t200\t157\n"
        "1795261074751332\t200\t215\n"
        "1795261074751400\t-1\t900000\n"  # failed stream: no latency
        "1795261074751500\t0\t300\textra column\n"  # status line not read; later columns ignored
        "1795261074752000\t500\t1234\n"
    )

    log = read_request_log(log_path)

    assert log.durations_us == (157, 215, 300, 1234)
    assert log.status_zero == 1
    assert log.first_start_us == 1795261074751332
    assert log.last_answered_start_us == 1795261074752000


def test_percentiles_are_milliseconds_from_microseconds() -> None:
    durations = tuple(range(10, 10_001, 10))  # 10 µs .. 10 ms

    latencies = latency_percentiles_ms(durations)

    assert latencies["latency_p50_ms"] == pytest.approx(5.005)
    assert latencies["latency_p95_ms"] == pytest.approx(9.5005, abs=0.001)  # to the microsecond
    assert latencies["latency_p99_ms"] == pytest.approx(9.9001, abs=0.001)
    assert latencies["latency_max_ms"] == 10.0
    assert latency_percentiles_ms((2500,)) == dict.fromkeys(latencies, 2.5)
    assert latency_percentiles_ms(()) == dict.fromkeys(latencies)


def test_unparsed_statuses_are_only_failures_without_a_status_or_error() -> None:
    text = (
        "finished in 1.00s, 10.00 req/s, 1KB/s\n"
        "requests: 10 total, 10 started, 10 done, 0 succeeded, 10 failed, 2 errored, 0 timeout\n"
        "status codes: 0 2xx, 0 3xx, 3 4xx, 0 5xx\n"
    )
    log = RequestLog((1,) * 8, status_zero=8, first_start_us=1, last_answered_start_us=1)

    assert unparsed_status_count(parse_summary(text), log) == 5  # 10 failed - 2 errored - 3 4xx


@pytest.mark.parametrize(
    ("protocol", "url", "flags"),
    [
        ("http/1.1", "http://127.0.0.1:1/", ["--h1"]),
        ("http/1.1", "https://127.0.0.1:1/", ["--h1"]),
        ("h2", "https://127.0.0.1:1/", ["--npn-list=h2"]),
        ("h2c", "http://127.0.0.1:1/", ["-p", "h2c"]),
    ],
)
def test_the_command_names_the_protocol_and_durations_in_ms(
    protocol: str, url: str, flags: list[str]
) -> None:
    request = H2loadRequest(url, clients=4, protocol=protocol, duration_s=1.5, warmup_s=0)

    command = h2load_command(request, Path("/scratch/run.log"))

    assert command[0] == "h2load" and command[-1] == url
    assert command[1 : 1 + len(flags)] == flags
    text = " ".join(command)
    assert "-c 4 -t 1 -D 1500ms --warm-up-time 0ms --log-file /scratch/run.log" in text
    assert "--rps" not in command


def test_a_fixed_rate_command_passes_the_rate_per_client() -> None:
    request = request_for("http://127.0.0.1:1/", clients=10, rps_per_client=2.5)

    command = h2load_command(request, Path("run.log"))

    assert command[command.index("--rps") + 1] == "2.5"
    assert request.target_requests_per_s == 25


@pytest.mark.parametrize(
    "overrides",
    [
        {"protocol": "h3"},
        {"protocol": "h2"},  # h2 is by ALPN: needs https
        {"url": "https://127.0.0.1:1/", "protocol": "h2c"},
        {"clients": 2, "threads": 3},
        {"duration_s": 0},
        {"rps_per_client": 0},
    ],
)
def test_impossible_requests_are_refused(overrides: dict) -> None:
    with pytest.raises(ValueError):
        request_for(overrides.pop("url", "http://127.0.0.1:1/"), **overrides)


# ---- real runs ---------------------------------------------------------------------------------


def test_a_200_server_gives_sane_figures(status_server, tmp_path: Path) -> None:
    request = request_for(status_server("ok"))

    measurement = run_h2load(request, tmp_path)

    assert measurement.ok, measurement.failure
    metrics = measurement.metrics
    assert metrics["requests_per_s"] > 0
    assert metrics["answered_per_s"] == pytest.approx(metrics["requests_per_s"])  # none failed
    assert metrics["requests_total"] > 0
    assert 0 < metrics["latency_p50_ms"] <= metrics["latency_p95_ms"]
    assert metrics["latency_p95_ms"] <= metrics["latency_p99_ms"] <= metrics["latency_max_ms"]
    for name in ("failed", "errored", "timeout", "non2xx", "unparsed_status"):
        assert metrics[f"{name}_percent"] == 0
    assert "target_requests_per_s" not in metrics
    details = measurement.details
    assert details["command"][-1] == request.url
    assert details["application_protocol"] == "http/1.1"
    assert details["tls_protocol"] is None
    assert details["summary"].startswith("Application protocol: http/1.1")
    assert details["notes"] == []
    assert list(tmp_path.glob("h2load-*.log")) == []  # the log is read, then deleted


def test_a_500_server_is_all_non2xx(status_server, tmp_path: Path) -> None:
    measurement = run_h2load(request_for(status_server("500")), tmp_path)

    assert measurement.ok, measurement.failure
    assert measurement.metrics["non2xx_percent"] == 100
    assert measurement.metrics["failed_percent"] == 100
    assert measurement.metrics["unparsed_status_percent"] == 0
    # h2load's own rate counts the 500s; the throughput does not.
    assert measurement.metrics["requests_per_s"] > 0
    assert measurement.metrics["answered_per_s"] == 0


def test_a_status_line_without_reason_phrase_is_answered_not_failed(
    status_server, tmp_path: Path
) -> None:
    measurement = run_h2load(request_for(status_server("noreason")), tmp_path)

    assert measurement.ok, measurement.failure
    metrics = measurement.metrics
    assert metrics["unparsed_status_percent"] == 100
    assert metrics["failed_percent"] == 0
    assert metrics["answered_per_s"] == pytest.approx(metrics["requests_per_s"])
    assert metrics["non2xx_percent"] == 0
    assert metrics["latency_p50_ms"] is not None
    [note] = measurement.details["notes"]
    assert note.startswith(f"{metrics['requests_total']} responses had a status line")


def test_a_server_that_drops_connections_is_a_failed_run(status_server, tmp_path: Path) -> None:
    measurement = run_h2load(request_for(status_server("close")), tmp_path)

    assert_failed_without_figures(measurement)
    assert measurement.failure.startswith("no request was answered in the main duration")


def test_a_refused_connection_is_a_failed_run(tmp_path: Path) -> None:
    measurement = run_h2load(request_for(f"http://127.0.0.1:{free_port()}/"), tmp_path)

    assert_failed_without_figures(measurement)
    assert measurement.failure.startswith("no connection could be made (h2load: ")
    assert measurement.details["parsed"]["requests_total"] == 0


def test_connections_that_stop_answering_before_the_end_fail_the_run(
    status_server, tmp_path: Path
) -> None:
    # The server answers for 0.2 s, then hangs: h2load's counters alone look like a good run.
    request = request_for(status_server("stall"), duration_s=1.0)

    measurement = run_h2load(request, tmp_path)

    assert_failed_without_figures(measurement)
    assert measurement.failure.startswith("the last answered request started")
    assert measurement.details["parsed"]["failed_percent"] == 0


def test_a_server_slower_than_the_fixed_rate_fails_the_run(status_server, tmp_path: Path) -> None:
    request = request_for(status_server("slow"), clients=1, rps_per_client=1000)

    measurement = run_h2load(request, tmp_path)

    assert_failed_without_figures(measurement)
    assert measurement.failure.startswith("not a fixed-rate figure: the server kept up with only")
    assert measurement.failure.endswith("of 1000 req/s")
    assert measurement.details["parsed"]["target_requests_per_s"] == 1000


def test_a_fixed_rate_the_server_keeps_up_with_is_a_figure(status_server, tmp_path: Path) -> None:
    request = request_for(status_server("ok"), clients=2, rps_per_client=20)

    measurement = run_h2load(request, tmp_path)

    assert measurement.ok, measurement.failure
    assert measurement.metrics["target_requests_per_s"] == 40
    assert measurement.metrics["requests_per_s"] >= 0.98 * 40


def test_h2c_asked_of_an_http11_only_server_fails(status_server, tmp_path: Path) -> None:
    measurement = run_h2load(request_for(status_server("ok"), protocol="h2c"), tmp_path)

    assert_failed_without_figures(measurement)
    assert measurement.failure.endswith("or does not speak h2c")


def test_h2load_still_running_at_the_timeout_is_killed(status_server, tmp_path: Path) -> None:
    request = request_for(status_server("ok"), duration_s=10)

    measurement = run_h2load(request, tmp_path, timeout_s=1)

    assert_failed_without_figures(measurement)
    assert measurement.failure == "h2load did not finish within 1 s and was killed"
    assert measurement.details["exit_code"] is None
    assert_no_h2load_left(tmp_path)
    assert list(tmp_path.glob("h2load-*.log")) == []


def test_a_timeout_after_the_clients_stopped_says_h2load_hung() -> None:
    # h2load 1.52 often never exits from a -D run whose server closes the connection after
    # every response (status_line_server's "oneshot" mode): it prints this line, then spins.
    request = request_for("http://127.0.0.1:1/")
    output = "Main benchmark duration is over\nStopped all clients for thread #0\n"
    finished = h2load_run.Finished(output, "", exit_code=None, ended_at_s=time.time())

    measurement = h2load_run.measurement_of(request, ["h2load"], finished, None, timeout_s=3)

    assert measurement.failure == "h2load did not finish within 3 s and was killed" + TIMEOUT_HINT
    assert measurement.metrics == {}


def stand_in_h2load(tmp_path: Path, after_the_end: str) -> list[str]:
    """A process that prints h2load's end-of-duration lines, then runs ``after_the_end``
    (Python); its command line names ``tmp_path`` so that leftovers can be found."""
    script = tmp_path / "stand_in_h2load.py"
    script.write_text(
        "import sys, time\n"
        "print('Main benchmark duration is over for thread #0. Stopping all clients.')\n"
        "print('Stopped all clients for thread #0', flush=True)\n" + after_the_end + "\n"
    )
    return [sys.executable, str(script)]


def test_h2load_still_running_after_its_main_duration_ended_is_killed_as_hung(
    tmp_path: Path,
) -> None:
    command = stand_in_h2load(tmp_path, "time.sleep(60)")

    finished = h2load_run.run_process(command, timeout_s=60, stopping_grace_s=0.5)
    measurement = h2load_run.measurement_of(
        request_for("http://127.0.0.1:1/"), command, finished, None, timeout_s=60
    )

    assert finished.exit_code is None
    assert finished.killed_after_stopping_s == 0.5
    assert "Stopped all clients" in finished.stdout
    assert measurement.failure == (
        "h2load did not finish within 0.5 s of the end of its main duration and was killed"
        + TIMEOUT_HINT
    )
    assert_no_h2load_left(tmp_path)


def test_h2load_that_exits_within_the_grace_after_its_main_duration_is_not_killed(
    tmp_path: Path,
) -> None:
    command = stand_in_h2load(tmp_path, "time.sleep(0.2); print('finished in 1.00s'); sys.exit(0)")

    finished = h2load_run.run_process(command, timeout_s=60, stopping_grace_s=30)

    assert finished.exit_code == 0
    assert finished.killed_after_stopping_s is None
    assert finished.stdout.endswith("finished in 1.00s\n")


def test_ctrl_c_kills_h2load_and_is_raised_again(status_server, tmp_path: Path) -> None:
    request = request_for(status_server("ok"), duration_s=10)
    main = threading.main_thread().ident
    assert main is not None
    interrupt = threading.Timer(0.5, signal.pthread_kill, (main, signal.SIGINT))
    interrupt.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_h2load(request, tmp_path)
    finally:
        interrupt.cancel()
    assert_no_h2load_left(tmp_path)
    assert list(tmp_path.glob("h2load-*.log")) == []


def test_the_prefix_goes_before_the_command(status_server, tmp_path: Path) -> None:
    prefix = ["env", "H2LOAD_TEST=1"]

    measurement = run_h2load(request_for(status_server("ok")), tmp_path, prefix=prefix)

    assert measurement.ok, measurement.failure
    assert measurement.details["command"][:3] == [*prefix, "h2load"]


def test_a_missing_h2load_is_a_failed_run_and_no_version(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert h2load_version() == "1.52.0"  # the version RESEARCH.md was checked against
    monkeypatch.setattr("harness.benchmarks.h2load.run.H2LOAD", "h2load-not-installed")
    monkeypatch.setattr("harness.benchmarks.h2load.version.H2LOAD", "h2load-not-installed")

    measurement = run_h2load(request_for("http://127.0.0.1:1/"), tmp_path)

    assert measurement.failure == "h2load is not installed (Debian package nghttp2-client)"
    assert h2load_version() is None


# ---- HTTP/2: Hypercorn in cleartext and by ALPN ------------------------------------------------


def start_server(argv: list[str], scratch: Path, url: str, tls: TLSMaterial | None):
    process = ServerProcess(
        argv,
        cwd=APPS,
        env={"PATH": "/usr/bin:/bin"},
        log_path=scratch / f"{Path(argv[1]).stem}-{'tls' if tls else 'plain'}.log",
        stop_signal="SIGTERM",
    )
    process.start()
    verify = tls.client_context() if tls else True
    with httpx.Client(verify=verify, timeout=2.0) as client:
        process.wait_ready(url + "json/sync", timeout_s=20, client=client)
    return process


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Hypercorn plain (HTTP/1.1 and h2c) and TLS (h2 by ALPN), and an HTTP/1.1-only TLS server;
    started once for the module. Returns their URLs by name."""
    scratch = tmp_path_factory.mktemp("h2load-servers")
    tls = make_tls_material(scratch / "tls")
    certificate = [str(tls.certfile), str(tls.keyfile)]
    hypercorn = [str(HYPERCORN), "proto_asgi:app", "--workers", "0", "--bind"]
    ports = {name: free_port() for name in ("hypercorn", "hypercorn-tls", "http11-tls")}
    urls = {
        "hypercorn": f"http://127.0.0.1:{ports['hypercorn']}/",
        "hypercorn-tls": f"https://127.0.0.1:{ports['hypercorn-tls']}/",
        "http11-tls": f"https://127.0.0.1:{ports['http11-tls']}/",
    }
    commands = {
        "hypercorn": [*hypercorn, f"127.0.0.1:{ports['hypercorn']}"],
        "hypercorn-tls": [
            *hypercorn,
            f"127.0.0.1:{ports['hypercorn-tls']}",
            "--certfile",
            certificate[0],
            "--keyfile",
            certificate[1],
        ],
        "http11-tls": [
            sys.executable,
            str(APPS / "proto_http11.py"),
            str(ports["http11-tls"]),
            *certificate,
        ],
    }
    started = []
    try:
        for name, argv in commands.items():
            started.append(start_server(argv, scratch, urls[name], tls if "tls" in name else None))
        yield urls
    finally:
        for process in started:
            process.stop(grace_s=5)


@pytest.mark.parametrize(("server", "protocol"), [("hypercorn", "h2c"), ("hypercorn-tls", "h2")])
def test_http2_runs_report_their_protocol(
    servers: dict[str, str], tmp_path: Path, server: str, protocol: str
) -> None:
    measurement = run_h2load(request_for(servers[server], protocol=protocol), tmp_path)

    assert measurement.ok, measurement.failure
    assert measurement.details["application_protocol"] == protocol
    tls_protocol = measurement.details["tls_protocol"]
    assert tls_protocol.startswith("TLSv1.") if protocol == "h2" else tls_protocol is None
    assert measurement.metrics["failed_percent"] == 0
    assert measurement.metrics["unparsed_status_percent"] == 0  # HTTP/2 has no reason phrase


def test_hypercorn_over_http11_is_answered_with_an_unread_status(
    servers: dict[str, str], tmp_path: Path
) -> None:
    # The real case behind the synthetic one: Hypercorn sends "HTTP/1.1 200 ".
    measurement = run_h2load(request_for(servers["hypercorn"]), tmp_path)

    assert measurement.ok, measurement.failure
    assert measurement.metrics["unparsed_status_percent"] == 100
    assert measurement.metrics["failed_percent"] == 0


def test_h2_asked_of_a_tls_server_without_http2_fails(
    servers: dict[str, str], tmp_path: Path
) -> None:
    measurement = run_h2load(request_for(servers["http11-tls"], protocol="h2"), tmp_path)

    assert_failed_without_figures(measurement)
    assert measurement.failure.startswith("the TLS handshake worked (TLSv1.")
    assert measurement.failure.endswith("the server did not agree to h2 by ALPN")


def test_a_run_shorter_than_its_answers_is_called_too_short_not_a_stall():
    """SYNTHETIC log: 1 s answers in a 1.5 s run; the last answered request started at once."""
    request = H2loadRequest("http://127.0.0.1:1/", 200, "http/1.1", 1.5, 0.5)
    log = RequestLog((900_000, 1_000_000), 0, 1_000_000_000, 1_000_000_000)
    reason = stale_reason(request, log, ended_at_s=1_000 + 1.5)
    assert reason is not None and reason.startswith(TOO_SHORT)


SLOW_TO_ANSWER_OUTPUT = """Application protocol: http/1.1
finished in 1.32s, 0.00 req/s, 0B/s
requests: 0 total, 191 started, 0 done, 0 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 0 4xx, 0 5xx
"""


def test_requests_still_waiting_at_the_end_are_too_short_not_a_dropped_connection():
    """SYNTHETIC summary in h2load 1.52's format: 191 requests sent to a slow server in a 1 s
    run, none answered and none failed (they were still in flight when the run ended)."""
    request = H2loadRequest("http://127.0.0.1:1/", 500, "http/1.1", 1.0, 0.3)
    summary = parse_summary(SLOW_TO_ANSWER_OUTPUT)
    reason = failure_reason(request, summary, None, "", ended_at_s=1_000.0)
    assert reason is not None and reason.startswith(TOO_SHORT)
    assert "(191 requests sent, none answered, none failed)" in reason
    dropped = SLOW_TO_ANSWER_OUTPUT.replace("0 failed, 0 errored", "191 failed, 191 errored")
    reason = failure_reason(request, parse_summary(dropped), None, "", ended_at_s=1_000.0)
    assert reason is not None and reason.startswith("no request was answered")


def test_fast_answers_that_stop_early_are_a_stall():
    """SYNTHETIC log: 1 ms answers that stop 1 s before the end of a 2 s run."""
    request = H2loadRequest("https://127.0.0.1:1/", 10, "h2", 2.0, 0.5)
    log = RequestLog((1_000, 1_000), 0, 1_000_000_000, 1_001_000_000)
    reason = stale_reason(request, log, ended_at_s=1_000 + 2.0)
    assert reason is not None and "stopped answering" in reason
