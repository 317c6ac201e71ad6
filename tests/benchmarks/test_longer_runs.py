"""An h2load figure whose answers take longer than the run is measured again, twice and then
four times as long, and its later repeats start with the duration that worked.

The first test drives real h2load against tests/apps/tiny_http.py (synthetic), whose /sleep path
answers after the seconds it is given; the others give the escalation a stand-in for h2load that
fails runs shorter than a set length, to pin down each step. Nothing asserts a timing.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

from harness.benchmarks.h2load.command import H2loadRequest
from harness.benchmarks.h2load.validity import HUNG, TOO_SHORT
from harness.benchmarks.measurement import Measurement
from harness.benchmarks.scenarios.h2load_common import (
    LONGER_RUN_FACTORS,
    _h2load,
    _measured_long_enough,
)
from harness.benchmarks.settings import BENCHMARK_SETTINGS
from harness.network import make_tls_material
from tests.conftest import instance_for

RUN_S = 0.5
ANSWER_S = 1.0  # longer than a run, shorter than the longest retry


def bench_for(tmp_path: Path, endpoints: dict[str, str] | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        endpoints=endpoints or {},
        settings=replace(BENCHMARK_SETTINGS["quick"], duration_s=RUN_S, warmup_s=0.1),
        launcher=SimpleNamespace(tls=make_tls_material(tmp_path / "tls")),
        scratch=tmp_path,
        run_durations={},
        rule_windows={},
    )


def rule_bench(tmp_path: Path, max_window_s: float) -> SimpleNamespace:
    """A bench with the window rule on: 10 requests per client, probed over 0.2 s."""
    bench = bench_for(tmp_path)
    bench.settings = replace(
        bench.settings,
        window_requests_per_client=10,
        window_probe_s=0.2,
        max_window_s=max_window_s,
    )
    return bench


def test_a_run_too_short_for_its_answers_is_measured_longer_in_every_repeat(
    tiny_server, tmp_path: Path
) -> None:
    base_url, process = tiny_server("threaded")
    instance = instance_for(base_url, process)
    bench = bench_for(tmp_path, {"slow": f"/sleep?seconds={ANSWER_S:g}"})

    first = _h2load(bench, instance, base_url, "slow", 2, "http/1.1")
    second = _h2load(bench, instance, base_url, "slow", 2, "http/1.1")

    assert first.ok, first.failure
    assert first.metrics["requests_per_s"] > 0
    [used_s] = bench.run_durations.values()
    assert used_s in [RUN_S * factor for factor in LONGER_RUN_FACTORS]
    assert first.details["notes"][-1].startswith(f"measured over {used_s:g} s instead of")
    assert "the shorter run failed" in first.details["notes"][-1]
    assert second.ok, second.failure
    assert second.details["notes"][-1].startswith(f"measured over {used_s:g} s instead of")


class StandIn:
    """Fails runs shorter than ``enough_s`` with ``failure``; records every duration run."""

    def __init__(self, enough_s: float, failure: str = TOO_SHORT) -> None:
        self.enough_s, self.failure, self.durations = enough_s, failure, []

    def __call__(self, request: H2loadRequest) -> Measurement:
        self.durations.append(request.duration_s)
        if request.duration_s < self.enough_s:
            return Measurement(failure=f"{self.failure}: {request.duration_s:g} s")
        return Measurement(metrics={"requests_per_s": 10.0})


def escalate(tmp_path: Path, bench: SimpleNamespace, run: StandIn) -> Measurement:
    instance = SimpleNamespace(kind="http", extra_env={}, base_url="http://127.0.0.1:1")
    request = H2loadRequest("http://127.0.0.1:1/slow", 200, "http/1.1", RUN_S, 0.1)
    return _measured_long_enough(bench, instance, instance.base_url, request, run)


def test_the_retries_double_then_quadruple_and_later_repeats_start_where_it_worked(
    tmp_path: Path,
) -> None:
    bench = bench_for(tmp_path)
    first_run, later_run = StandIn(enough_s=2 * RUN_S), StandIn(enough_s=2 * RUN_S)

    first = escalate(tmp_path, bench, first_run)
    later = escalate(tmp_path, bench, later_run)

    assert first.ok and later.ok
    assert first_run.durations == [RUN_S, 2 * RUN_S]
    assert later_run.durations == [2 * RUN_S]
    assert "the shorter run failed (the run was too short" in first.details["notes"][-1]
    assert "as an earlier repeat of this figure had to be" in later.details["notes"][-1]


def test_a_hung_run_is_retried_longer_like_a_short_one(tmp_path: Path) -> None:
    run = StandIn(enough_s=4 * RUN_S, failure=HUNG)

    measured = escalate(tmp_path, bench_for(tmp_path), run)

    assert measured.ok
    assert run.durations == [RUN_S * factor for factor in (1, *LONGER_RUN_FACTORS)]


def test_a_run_too_short_even_at_the_longest_retry_stays_failed(tmp_path: Path) -> None:
    run = StandIn(enough_s=100.0)

    measured = escalate(tmp_path, bench_for(tmp_path), run)

    assert not measured.ok
    assert run.durations == [RUN_S * factor for factor in (1, *LONGER_RUN_FACTORS)]
    assert measured.failure == f"{TOO_SHORT}: {LONGER_RUN_FACTORS[-1] * RUN_S:g} s"


def test_the_window_rule_probes_once_and_every_repeat_runs_its_window(tmp_path: Path) -> None:
    bench = rule_bench(tmp_path, max_window_s=30)
    durations: list[float] = []

    def run(request: H2loadRequest) -> Measurement:
        durations.append(request.duration_s)
        return Measurement(metrics={"answered_per_s": 400.0})

    first = escalate(tmp_path, bench, run)
    second = escalate(tmp_path, bench, run)

    # 200 clients completing 10 requests each at 400 answered/s: 5 s.
    assert durations == [0.2, 5.0, 5.0]
    assert first.details["window_s"] == second.details["window_s"] == 5.0
    assert (
        "10 requests per client at the 0.2 s probe's 400 answered/s" in first.details["notes"][-1]
    )
    assert "notes" not in second.details  # the probe and its note belong to the first repeat


def test_a_window_whose_clients_completed_too_few_requests_is_lengthened_once(
    tmp_path: Path,
) -> None:
    """The probe said 400 answered/s (5 s for 10 requests per client at 200 clients); the
    window's own rate was 240/s, 6 per client: the window becomes 5 x 10/6 x 1.1 = 9.2 s for
    this repeat and the later ones, which are not lengthened again once they complete enough."""
    bench = rule_bench(tmp_path, max_window_s=30)
    durations: list[float] = []

    def run(request: H2loadRequest) -> Measurement:
        durations.append(request.duration_s)
        rate = 400.0 if request.duration_s == 0.2 else 240.0
        total = int(rate * request.duration_s)
        return Measurement(metrics={"answered_per_s": rate, "requests_total": total})

    first = escalate(tmp_path, bench, run)
    second = escalate(tmp_path, bench, run)

    assert durations == [0.2, 5.0, 9.2, 9.2]
    assert first.details["window_s"] == second.details["window_s"] == 9.2
    assert first.metrics["requests_total"] == 2208  # 11 per client
    assert first.details["notes"][0] == (
        "window lengthened to 9.2 s: its clients completed 6.0 requests each in the chosen "
        "window, fewer than the rule's 10"
    )
    assert "notes" not in second.details


def test_a_window_at_the_longest_is_not_lengthened(tmp_path: Path) -> None:
    bench = rule_bench(tmp_path, max_window_s=5)
    durations: list[float] = []

    def run(request: H2loadRequest) -> Measurement:
        durations.append(request.duration_s)
        return Measurement(metrics={"answered_per_s": 40.0, "requests_total": 200})

    measured = escalate(tmp_path, bench, run)

    assert durations == [0.2, 5.0]  # 1 per client, but 5 s is the profile's longest window
    assert measured.ok and measured.details["window_s"] == 5.0


def test_every_run_of_a_figure_starts_on_a_drained_server(
    tiny_server, tmp_path: Path, monkeypatch
) -> None:
    """The window probe, the window and its lengthened run each wait for the server to answer
    a request first: a run started while the server still answered the run before it inherited
    that run's abandoned requests (uvicorn at 500 clients: a multi-second p99 tail)."""
    from harness.benchmarks.scenarios import h2load_common

    base_url, process = tiny_server("threaded")
    instance = instance_for(base_url, process)
    bench = rule_bench(tmp_path, max_window_s=30)
    bench.endpoints = {"json": "/json"}
    events: list[float | str] = []  # each run's duration, and "drained" for each drain

    def drained(url, verify, timeout_s=h2load_common.DRAIN_TIMEOUT_S):
        h2load_common_wait(url, verify, timeout_s)  # a real request to the real server
        events.append("drained")

    def run_h2load(request, scratch, timeout_s):
        events.append(request.duration_s)
        rate = 400.0 if request.duration_s == 0.2 else 240.0
        total = int(rate * request.duration_s)
        return Measurement(metrics={"answered_per_s": rate, "requests_total": total})

    h2load_common_wait = h2load_common.wait_until_answering
    monkeypatch.setattr(h2load_common, "wait_until_answering", drained)
    monkeypatch.setattr(h2load_common, "run_h2load", run_h2load)

    measured = _h2load(bench, instance, base_url, "json", 200, "http/1.1")

    assert measured.details["window_s"] == 9.2
    # The figure's first drain, then one before the probe, the window and the lengthened one.
    assert events == ["drained", "drained", 0.2, "drained", 5.0, "drained", 9.2]
