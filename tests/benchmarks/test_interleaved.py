"""The interleaved rounds: every target once per round, in a rotated order, and each
configuration's rate set against the reference app of its interface from the same round."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from pathlib import Path

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
