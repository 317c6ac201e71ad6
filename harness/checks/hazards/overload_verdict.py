"""How the overload check judges what its load generator saw (``overload_generator.py``).

Asked for more than it can answer, a server can only do two things with the excess: refuse it
(an error status, a refused or closed connection) or keep it waiting. Refusing keeps the wait
of the requests it does answer bounded; keeping everything means a queue that grows as long as
the load lasts, until clients give up. Each load is judged on the requests due in its window:

- held: the answered ones waited no more than LATENCY_BOUND_S at the 99th percentile, almost
  none were left to the client's timeout, the queue at the end was no longer than the bound
  (requests outstanding, in seconds of arrivals), and at least half the measured maximum rate
  was still answered;
- swamped: the queue outgrew the bound (requests given up at the client's timeout, or still
  outstanding at the end, more than the bound's worth of arrivals) while the answered ones
  waited longer than the bound too, or while less than half the maximum rate was answered:
  an unbounded queue, the excess neither served nor refused;
- strained: anything else, e.g. fast answers while other requests starved, a slow but steady
  queue, or shedding so much that less than half the maximum rate was answered.
"""

from __future__ import annotations

from typing import Any

from evidence.vocabulary import OVERLOAD_STATES

LATENCY_BOUND_S = 1.0
GIVEN_UP_LIMIT = 0.01  # share of the window's requests the client may give up on: held
GOODPUT_FLOOR = 0.5  # share of the measured maximum rate still answered: held
RECOVERED_WITHIN_S = 5.0  # back to normal this soon after each load: yes

HELD, STRAINED, SWAMPED = OVERLOAD_STATES


def given_up(phase: dict[str, Any]) -> int:
    """Requests the client gave up on at its timeout, wherever they were waiting."""
    return sum(phase["timed_out"].values())


def outstanding(phase: dict[str, Any]) -> int:
    return sum(phase["outstanding"].values())


def shed(phase: dict[str, Any]) -> int:
    """Requests the server refused: an error status, a refused, reset or closed connection."""
    return sum(phase["statuses"].values()) + phase["refused"] + phase["reset"] + phase["closed"]


def queue_s(phase: dict[str, Any]) -> float:
    """The requests outstanding at the end, in seconds of arrivals (Little's law: about how
    long the last of them had to wait)."""
    return outstanding(phase) / phase["rate_per_s"]


def p99_s(phase: dict[str, Any]) -> float | None:
    p99 = phase["latency_ms"]["p99"]
    return None if p99 is None else p99 / 1000


def judge_phase(phase: dict[str, Any], max_rate: float) -> tuple[str, str]:
    """held / strained / swamped, and why in a few words (the figures are the evidence's and
    describe_phase's), for one fixed-rate load."""
    p99 = p99_s(phase)
    goodput = phase["answered_per_s"] / max_rate
    slow = p99 is None or p99 > LATENCY_BOUND_S
    piled = given_up(phase) > GIVEN_UP_LIMIT * phase["due"] or queue_s(phase) > LATENCY_BOUND_S
    if slow and piled:
        return SWAMPED, "an unbounded queue"
    if piled and goodput < GOODPUT_FLOOR:
        return SWAMPED, f"an unbounded queue, {goodput:.0%} of the maximum rate answered"
    if not slow and not piled and goodput >= GOODPUT_FLOOR:
        return HELD, "bounded"
    if not slow and not piled:
        return STRAINED, f"bounded, but only {goodput:.0%} of the maximum rate answered"
    if slow:
        return STRAINED, "a slow queue that did not outgrow the bound"
    return STRAINED, "fast answers while other requests waited past the bound"


def describe_phase(factor: int, phase: dict[str, Any], max_rate: float) -> str:
    """The figures of one load, in words, for the summary."""
    latency = phase["latency_ms"]
    if latency["p99"] is None:
        answered = "nothing answered"
    else:
        answered = (
            f"answered {phase['answered_per_s']:.0f}/s "
            f"({phase['answered_per_s'] / max_rate:.0%} of the maximum; waits p50 "
            f"{_seconds(latency['p50'] / 1000)}, p99 {_seconds(latency['p99'] / 1000)}, max "
            f"{_seconds(latency['max'] / 1000)})"
        )
    return (
        f"At {factor}x ({phase['rate_per_s']:.0f}/s for {phase['window_s']:g} s): {answered}, "
        f"refused {_shed_kinds(phase)}, {given_up(phase)} given up at the "
        f"{phase['timeout_s']:g} s client timeout, {outstanding(phase)} outstanding at the end"
    )


def _shed_kinds(phase: dict[str, Any]) -> str:
    kinds = [f"{count} HTTP {status}" for status, count in phase["statuses"].items()]
    kinds += [f"{phase[way]} {way}" for way in ("refused", "reset", "closed") if phase[way]]
    return "none" if not kinds else f"{shed(phase)} ({', '.join(kinds)})"


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def judge(overloads: list[dict[str, Any]], alive: bool) -> tuple[str, str]:
    """The outcome and its lead sentence. ``overloads``: per load sent, its ``factor``,
    ``phase`` (the generator's result), ``state`` and ``reason`` (judge_phase) and
    ``recovery``."""
    swamped = [load for load in overloads if load["state"] == SWAMPED]
    stuck = [load for load in overloads if load["recovery"]["recovered_after_s"] is None]
    said = _by_reason(swamped) + [
        f"not back to normal within {load['recovery']['limit_s']:g} s after the "
        f"{load['factor']}x load"
        for load in stuck
    ]
    if not alive:
        said.insert(0, "the server died under overload")
    if said:
        return "no", _sentence("; ".join(said))
    if all(load["state"] == HELD for load in overloads):
        waits = ", ".join(
            f"{load['factor']}x p99 {_seconds(p99_s(load['phase']))}" for load in overloads
        )
        late = [
            load for load in overloads if load["recovery"]["recovered_after_s"] > RECOVERED_WITHIN_S
        ]
        held = f"The wait stayed bounded at every load ({waits}), {_refusals(overloads)}"
        if not late:
            return "yes", held + "."
        return "partial", (
            f"{held}, but the server was back to normal only "
            f"{late[0]['recovery']['recovered_after_s']:.1f} s after the {late[0]['factor']}x "
            "load."
        )
    return "partial", _sentence("; ".join(_by_reason(overloads, skip=HELD)))


def _by_reason(loads: list[dict[str, Any]], skip: str | None = None) -> list[str]:
    """ "an unbounded queue at 2x and 10x": loads that share a reason, named together."""
    factors: dict[str, list[str]] = {}
    for load in loads:
        if load["state"] != skip:
            factors.setdefault(load["reason"], []).append(f"{load['factor']}x")
    return [f"{reason} at {' and '.join(named)}" for reason, named in factors.items()]


def _refusals(overloads: list[dict[str, Any]]) -> str:
    """How the excess was refused, over every load: "the excess refused with HTTP 503"."""
    kinds = {f"HTTP {status}" for load in overloads for status in load["phase"]["statuses"]}
    kinds |= {
        f"{way} connections"
        for load in overloads
        for way in ("refused", "reset", "closed")
        if load["phase"][way]
    }
    return "nothing refused" if not kinds else "the excess refused: " + ", ".join(sorted(kinds))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."
