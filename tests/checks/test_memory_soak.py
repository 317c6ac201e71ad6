"""The memory-soak check against tiny forking servers (tests/apps/memory_server.py) that keep
nothing, keep 64 KiB per request, or keep it and replace each worker after 50 requests, with
the soak shortened to seconds; and the trend's interval on series made up here."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from evidence.schema import load_schema, schema_errors
from harness.checks import CheckContext, run_check
from harness.checks.operations import CHECKS, memory_soak
from harness.checks.operations.memory_trend import fit_trend
from harness.checks_phase import option_launcher, option_scratch_name
from harness.endpoints import load_endpoints
from harness.launcher import SQLITE_FILE
from harness.profiles import PROFILES
from tests import synthetic
from tests.checks.conftest import script_launcher

MEMORY_SERVER = Path(__file__).parents[1] / "apps" / "memory_server.py"
MIB = 1024 * 1024

Start = Callable[[str], CheckContext]


@pytest.fixture
def memory_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Start]:
    """Start the tiny server in a mode the way the harness starts servers, with a soak of a
    1 s warm-up and a 5 s window sampled ten times a second, and small uploads. The bound is
    raised to 50 MiB per 10,000 requests: in a window of under 400 requests, one more thread
    stack (a connection openload opens late) reads as 3 MiB per 10,000, while the leak is 625."""
    monkeypatch.setattr(memory_soak, "SOAK", memory_soak.Soak(warmup_s=1.0, window_s=5.0))
    monkeypatch.setattr(memory_soak, "BOUND_MIB_PER_10K", 50.0)
    monkeypatch.setattr(memory_soak, "SAMPLE_EVERY_S", 0.1)
    monkeypatch.setattr(memory_soak, "UPLOAD_BYTES", 16 * 1024)
    monkeypatch.setattr(memory_soak, "DRAIN_S", 2.0)
    with ExitStack() as stack:

        def start(mode: str) -> CheckContext:
            definition = synthetic.definition(
                f"memory-{mode}",
                commands={"http": (sys.executable, str(MEMORY_SERVER), "{port}", mode)},
            )
            scratch = tmp_path / mode
            scratch.mkdir()
            launcher = script_launcher(definition, scratch)
            shared = stack.enter_context(launcher.launch("http"))
            return CheckContext(definition, load_endpoints(), PROFILES["quick"], shared, launcher)

        yield start


def _valid(result: dict) -> None:
    run = synthetic.run()
    run["checks"] = [result]
    assert schema_errors(run, "run") == []


def test_a_server_that_keeps_nothing_is_flat(memory_server: Start) -> None:
    result = run_check(memory_soak.CHECK, memory_server("flat"))
    assert result["outcome"] == "yes", result["summary"]
    evidence = result["evidence"]
    slope = evidence["total"]["pss_slope_mib_per_10k"]
    assert slope["high"] is None or slope["low"] <= memory_soak.BOUND_MIB_PER_10K
    roles = [process["role"] for process in evidence["processes"]]
    assert roles == ["main", "child", "child"]  # the main process and its two workers
    assert all(process["replaced_by"] is None for process in evidence["processes"])
    assert {load["id"] for load in evidence["loads"]} == {part.id for part in memory_soak.MIX}
    upload = next(load for load in evidence["loads"] if load["id"] == "upload")
    assert upload["answered"] > 0 and set(upload["statuses"]) == {"200"}  # warm-up included
    assert evidence["requests"]["answered"] > 0
    assert evidence["cause"] is None
    assert evidence["trend"] in ("flat", "not-shown")
    _valid(result)


def test_a_server_that_keeps_memory_per_request_grows_without_blaming_the_server(
    memory_server: Start,
) -> None:
    result = run_check(memory_soak.CHECK, memory_server("leaks"))
    assert result["outcome"] == "no", result["summary"]
    assert result["summary"].startswith("Grows: total PSS +")
    evidence = result["evidence"]
    # 64 KiB a request is 625 MiB per 10,000 requests; the fit sees it to within a quarter.
    slope = evidence["total"]["pss_slope_mib_per_10k"]
    assert 0.75 * 625 < slope["slope"] < 1.25 * 625
    assert slope["low"] > memory_soak.BOUND_MIB_PER_10K
    # The kernel may give every connection to one worker (the load keeps its connections
    # alive), so growth is asserted of the workers as a whole, not of each.
    workers = [p for p in evidence["processes"] if p["role"] == "child"]
    assert any(p["pss_slope_mib_per_10k"]["slope"] > memory_soak.BOUND_MIB_PER_10K for p in workers)
    # The main process serves nothing and does not grow: the cause is left undetermined.
    assert result["cause"] == "undetermined"
    assert result["cause_detail"].startswith("Undetermined")
    assert evidence["cause"] == "undetermined"
    assert evidence["trend"] == "grows"
    _valid(result)


def test_a_server_that_replaces_leaking_workers_is_bounded(memory_server: Start) -> None:
    result = run_check(memory_soak.CHECK, memory_server("recycles"))
    assert result["outcome"] == "partial", result["summary"]
    assert result["summary"].startswith("Bounded by replacing workers (")
    processes = result["evidence"]["processes"]
    replaced = [p for p in processes if p["replaced_by"] is not None]
    assert replaced
    pids = {p["pid"]: p for p in processes}
    for gone in replaced:
        successor = pids[gone["replaced_by"]]
        assert successor["replaces"] == gone["pid"]
        assert successor["first_seen_s"] > gone["last_seen_s"]
    _valid(result)


def test_the_check_is_an_operations_check_on_the_heavy_turn() -> None:
    assert memory_soak.CHECK in CHECKS
    assert memory_soak.CHECK.heavy
    assert f"{memory_soak.BOUND_MIB_PER_10K:g} MiB per 10,000 requests" in (
        memory_soak.CHECK.thresholds
    )


def test_the_schema_knows_every_trend() -> None:
    soak = load_schema("check-evidence")["$defs"]["checks"]["memory-soak"]["properties"]
    assert tuple(soak["trend"]["enum"]) == memory_soak.TRENDS


def test_the_full_profile_soaks_longer() -> None:
    assert memory_soak.soak_for("full").window_s > memory_soak.soak_for("standard").window_s
    assert memory_soak.soak_for("quick") == memory_soak.SOAK


def test_a_straight_line_gives_its_slope_inside_a_narrow_interval() -> None:
    noise = random.Random(7)
    times = [i * 0.5 for i in range(200)]
    trend = fit_trend(times, [3.0 * t + noise.gauss(0, 1) for t in times])
    assert trend is not None and trend.low is not None and trend.high is not None
    assert trend.low < 3.0 < trend.high
    assert trend.above(2.9)


def test_one_step_is_not_told_apart_from_noise_as_a_trend() -> None:
    """A single jump (an allocator arena taken once) makes the residuals of a line strongly
    autocorrelated: the interval widens instead of declaring a trend."""
    noise = random.Random(3)
    times = [float(i) for i in range(120)]
    values = [(0.0 if t < 60 else 1.0 * MIB) + noise.gauss(0, 0.01 * MIB) for t in times]
    trend = fit_trend(times, values)
    assert trend is not None
    assert trend.lag1_autocorrelation > 0.5
    assert trend.effective_samples < 40
    # A plain least-squares interval would exclude a slope of a third of the step's average.
    assert not trend.above(trend.slope / 3)


def test_too_few_samples_give_no_trend() -> None:
    assert fit_trend([0.0, 1.0, 2.0], [1.0, 2.0, 3.0]) is None


def test_an_option_gets_a_copy_of_the_prepared_database(tmp_path: Path) -> None:
    """The memory controls are tried on instances of their own; without the prepared database
    (migrated, with the polls) the soak's ORM reads would all be 500s under the option."""
    definition = synthetic.definition("optioned")
    launcher = script_launcher(definition, tmp_path)
    (tmp_path / SQLITE_FILE).write_bytes(b"prepared")

    optioned = option_launcher(launcher, definition, "max-requests-1000")

    assert optioned.scratch == tmp_path / option_scratch_name("max-requests-1000")
    assert (optioned.scratch / SQLITE_FILE).read_bytes() == b"prepared"
    assert optioned.variables(False, {})["SQLITE_PATH"] == str(optioned.scratch / SQLITE_FILE)
