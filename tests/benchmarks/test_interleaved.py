"""The interleaved rounds: every target once per round, in a rotated order, and each
configuration's rate set against the reference app of its interface from the same round."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from harness.benchmarks.apps import raw
from harness.benchmarks.interleaved import InterleavedRounds, Target, round_order
from harness.benchmarks.measurement import Measurement, summarise
from harness.benchmarks.pinning import Pinning
from harness.benchmarks.settings import BENCHMARK_SETTINGS
from harness.progress import Progress

# answered/s per round: the machine halves its speed in round 2, both the reference and the
# configuration alike, so the ratio stays 0.1 only if it pairs figures of the same round.
REFERENCE_RATES = [1000.0, 500.0, 800.0]
CONFIGURATION_RATES = [100.0, 50.0, 80.0]


def _target(target_id: str, interface: str, rates: list[float], order: list[str]) -> Target:
    target = Target(target_id, interface, reference=target_id.startswith("ref-"))
    calls = iter(rates)

    def start() -> dict[int, Measurement]:
        order.append(target_id)
        return {1: Measurement(metrics={"answered_per_s": next(calls)})}

    target.start = start
    return target


def _rounds(tmp_path: Path) -> InterleavedRounds:
    settings = replace(BENCHMARK_SETTINGS["quick"], interleaved_rounds=3, interleaved_clients=(1,))
    return InterleavedRounds(
        settings,
        Pinning(None, None),
        tmp_path,
        Progress(1).server("interleaved"),
        threading.Event(),
    )


def test_each_round_measures_every_target_once_starting_elsewhere(tmp_path: Path) -> None:
    order: list[str] = []
    ids = ["ref-wsgi", "ref-asgi", "alpha", "beta"]
    targets = [_target(i, "wsgi", [1.0] * 3, order) for i in ids]
    _rounds(tmp_path).run(targets)
    rounds = [order[i * 4 : i * 4 + 4] for i in range(3)]
    assert all(sorted(one) == sorted(ids) for one in rounds)
    assert [one[0] for one in rounds] == ["ref-wsgi", "ref-asgi", "alpha"]  # none always first
    assert [t.id for t in round_order(targets, 2, 3)] == ["alpha", "beta", "ref-wsgi", "ref-asgi"]


def test_the_ratio_pairs_each_round_with_the_same_rounds_reference(tmp_path: Path) -> None:
    order: list[str] = []
    targets = [
        _target("ref-wsgi", "wsgi", REFERENCE_RATES, order),
        _target("alpha", "wsgi", CONFIGURATION_RATES, order),
    ]
    repeats = _rounds(tmp_path).run(targets)
    ratios = [m.metrics["reference_ratio"] for m in repeats[("alpha", 1)]]
    assert ratios == [0.1, 0.1, 0.1]
    summary = summarise(repeats[("alpha", 1)])
    assert summary["spread"]["answered_per_s"]["cv_percent"] > 20  # the drift...
    assert summary["spread"]["reference_ratio"]["cv_percent"] == 0  # ...cancels out
    assert "reference_ratio" not in repeats[("ref-wsgi", 1)][0].metrics


@pytest.mark.parametrize(
    ("reference_rates", "rounds", "stopped"),
    [
        # Steady from the start: the least number of rounds is enough.
        ([1000.0, 1010.0, 990.0], 3, "reference-settled"),
        # One slow round: CV 12.4 % after 3 rounds, 10.5 % after 4, 9.3 % after 5.
        ([1000.0, 1000.0, 800.0, 1000.0, 1000.0, 1000.0], 5, "reference-settled"),
        # Never below 10 %: the most rounds, and the figure says so.
        ([1000.0, 500.0] * 4, 6, "round-cap"),
    ],
)
def test_rounds_go_on_until_the_reference_settles_up_to_the_cap(
    tmp_path: Path, reference_rates: list[float], rounds: int, stopped: str
) -> None:
    from harness.benchmarks.interleaved import figure_records

    order: list[str] = []
    targets = [
        _target("ref-wsgi", "wsgi", reference_rates, order),
        _target("alpha", "wsgi", [100.0] * len(reference_rates), order),
    ]
    interleaved = _rounds(tmp_path)
    interleaved.settings = replace(
        interleaved.settings,
        interleaved_rounds=3,
        interleaved_max_rounds=6,
        interleaved_reference_cv_percent=10.0,
    )

    repeats = interleaved.run(targets)

    assert interleaved.outcome is not None
    assert (interleaved.outcome.rounds, interleaved.outcome.stopped) == (rounds, stopped)
    assert len(order) == 2 * rounds  # every target once in every round
    assert all(sorted(order[i : i + 2]) == ["alpha", "ref-wsgi"] for i in range(0, len(order), 2))
    expected_cv = summarise(repeats[("ref-wsgi", 1)])["spread"]["answered_per_s"]["cv_percent"]
    assert (expected_cv < 10.0) == (stopped == "reference-settled")
    records = figure_records(
        targets, repeats, interleaved.settings, Pinning(None, None), interleaved.outcome
    )
    for record in records:
        assert record["params"]["rounds"] == len(record["repeats"]) == rounds
        assert record["params"]["rounds_stopped"] == stopped
        assert record["params"]["reference_cv_percent"] == pytest.approx(expected_cv)


def test_a_failed_reference_stops_the_rounds_at_the_least_number(tmp_path: Path) -> None:
    reference = Target("ref-asgi", "asgi", reference=True, setup_failure="Granian is missing")
    interleaved = _rounds(tmp_path)
    interleaved.settings = replace(interleaved.settings, interleaved_max_rounds=8)
    interleaved.run([reference, _target("alpha", "asgi", [1.0] * 8, [])])
    assert interleaved.outcome is not None
    assert (interleaved.outcome.rounds, interleaved.outcome.stopped) == (3, "reference-failed")


def test_a_target_that_cannot_start_fails_and_its_configurations_get_no_ratio(
    tmp_path: Path,
) -> None:
    order: list[str] = []
    reference = Target("ref-asgi", "asgi", reference=True, setup_failure="Granian is missing")
    targets = [reference, _target("alpha", "asgi", CONFIGURATION_RATES, order)]
    repeats = _rounds(tmp_path).run(targets)
    assert [m.failure for m in repeats[("ref-asgi", 1)]] == ["Granian is missing"] * 3
    assert all(m.ok and m.metrics["reference_ratio"] is None for m in repeats[("alpha", 1)])
    assert summarise(repeats[("alpha", 1)])["metrics"]["reference_ratio"] is None


def test_the_reference_apps_do_their_fixed_work_and_answer_ok(monkeypatch) -> None:
    calls: list[int] = []
    real_work = raw.work
    monkeypatch.setattr(raw, "work", lambda: calls.append(real_work()) or calls[-1])
    statuses: list[str] = []
    body = raw.wsgi_busy_app({}, lambda status, headers: statuses.append(status))
    assert statuses == ["200 OK"] and body == [b"ok"] and len(calls) == 1

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(raw.asgi_busy_app({"type": "http"}, None, send))
    assert sent[-1] == {"type": "http.response.body", "body": b"ok"} and len(calls) == 2
    assert real_work() == real_work()  # the same work every time


def test_a_reference_window_too_short_for_the_rule_is_lengthened_for_later_rounds(
    tmp_path: Path, monkeypatch
) -> None:
    """The probe's 400/s asks 5 s of 200 clients; the window's 240/s gives 6 per client, so the
    reference's window becomes 9.2 s, kept for the next round."""
    from harness.benchmarks import interleaved

    events: list[float | str] = []  # each run's duration, and "drained" for each drain

    def run_h2load(request, scratch, timeout_s):
        events.append(request.duration_s)
        rate = 400.0 if request.duration_s == 0.5 else 240.0
        return Measurement(
            metrics={"answered_per_s": rate, "requests_total": int(rate * request.duration_s)}
        )

    monkeypatch.setattr(interleaved, "run_h2load", run_h2load)
    monkeypatch.setattr(
        interleaved, "wait_until_answering", lambda url, context: events.append("drained")
    )
    rounds = _rounds(tmp_path)
    rounds.settings = replace(
        rounds.settings, window_requests_per_client=10, window_probe_s=0.5, max_window_s=30
    )
    target = Target("ref-wsgi", "wsgi", reference=True)

    first = rounds._reference_run("http://127.0.0.1:1", 200, target)
    later = rounds._reference_run("http://127.0.0.1:1", 200, target)

    # The probe, the window, the lengthened window, the next round's: each on a drained app.
    assert events == ["drained", 0.5, "drained", 5.0, "drained", 9.2, "drained", 9.2]
    assert first.details["window_s"] == later.details["window_s"] == 9.2
    assert first.details["notes"] == [
        "window lengthened to 9.2 s: its clients completed 6.0 requests each in the chosen "
        "window, fewer than the rule's 10"
    ]
    assert "notes" not in later.details


TINY_HTTP = Path(__file__).parents[1] / "apps" / "tiny_http.py"


def test_one_run_measures_every_middleware_stack_and_each_figure_names_its_own(
    tmp_path: Path,
) -> None:
    """Real servers (tests/apps/tiny_http.py, synthetic) through the real launcher and h2load:
    each round starts the configuration once per stack with that stack's variables, and each
    figure stores the stack it ran with."""
    import sys

    from harness.benchmarks.interleaved import figure_records
    from harness.benchmarks.scenarios.bench import ServerBench
    from harness.endpoints import load_endpoints
    from harness.environments import Environment
    from harness.launcher import Launcher
    from harness.network import make_tls_material
    from harness.profiles import PROFILES
    from tests import synthetic

    # The server says which variables it was started with, in its log.
    shell = 'echo "stack=$DJANGO_MIDDLEWARE_STACK static=$DJANGO_STATIC_MIDDLEWARE"; exec "$@"'
    definition = synthetic.definition(
        "tiny-asgi",
        interface="asgi",
        commands={
            "http": ("sh", "-c", shell, "sh", sys.executable, str(TINY_HTTP), "{port}", "threaded")
        },
    )
    launcher = Launcher(
        definition,
        Environment(path=tmp_path / "no-env", python_version="", packages={}),
        tmp_path,
        PROFILES["quick"],
        make_tls_material(tmp_path / "tls"),
    )
    rounds = _rounds(tmp_path)
    rounds.settings = replace(rounds.settings, interleaved_rounds=2)
    bench = ServerBench(
        definition,
        launcher,
        rounds.settings,
        Pinning(None, None),
        load_endpoints(),
        tmp_path,
        rounds.progress,
    )
    targets = [rounds.configuration_target(bench, "1.0", stack) for stack in ("production", "none")]

    repeats = rounds.run(targets)
    records = figure_records(targets, repeats, rounds.settings, Pinning(None, None))

    logs = sorted(path.read_text() for path in tmp_path.glob("server-*-http.log"))
    started = sorted(log.splitlines()[0] for log in logs)
    assert (
        started
        == ["stack=none static=", "stack=none static="]
        + ["stack=production static=servestatic"] * 2
    )
    by_figure = {record["figure"]: record for record in records}
    assert set(by_figure) == {
        "tiny-asgi http/1.1 c=1",
        "tiny-asgi http/1.1 c=1, no middleware",
    }
    production = by_figure["tiny-asgi http/1.1 c=1"]
    bare = by_figure["tiny-asgi http/1.1 c=1, no middleware"]
    assert production["status"] == bare["status"] == "ok"
    assert len(production["repeats"]) == len(bare["repeats"]) == 2
    assert production["params"]["middleware_stack"] == "production"
    assert production["params"]["static_files_middleware"] == "servestatic"
    assert "variant" not in production["params"]
    assert bare["params"]["middleware_stack"] == "none"
    assert bare["params"]["static_files_middleware"] is None
    assert bare["params"]["variant"] == "no middleware"
    assert production["params"]["target"] == bare["params"]["target"] == "tiny-asgi"
