"""The http2-frames check against tiny HTTP/2 servers (tests/apps/h2_tiny.py): one that
refuses the streams over its limit and closes a connection that resets too many, one that
closes the whole connection over its stream limit, one that takes every reset, and one that
dies under a rapid reset; and its judgement on hand-made evidence."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import jsonschema
import pytest

from evidence.schema import load_schema
from evidence.vocabulary import H2_RAPID_RESET_VERDICTS, H2_STREAM_LIMIT_VERDICTS
from harness.checks import CheckContext, run_check
from harness.checks.hazards import h2_probes, h2_rapid_reset, http2_frames
from harness.environments import Environment
from harness.launcher import Instance, Launcher
from harness.network import make_tls_material
from harness.profiles import PROFILES
from tests import synthetic

APPS = Path(__file__).parents[1] / "apps"
(CHECK,) = http2_frames.CHECKS
PROBES = (
    "unknown_frame",
    "stream_limit",
    "rapid_reset",
    "settings_flood",
    "continuation_flood",
    "zero_window",
)


def definition(mode: str, h2: bool = True):
    commands = {"http": ("{python}", str(APPS / "hazard_server.py"), "{port}", "strict")}
    if h2:
        commands["h2c"] = ("{python}", str(APPS / "h2_tiny.py"), "{port}", mode)
    return synthetic.definition(f"h2-{mode}", interface="asgi", commands=commands)


@pytest.fixture(autouse=True)
def short_attack(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rapid reset of 2 s, not 10: what is asserted does not depend on its length."""
    monkeypatch.setattr(h2_rapid_reset, "ATTACK_S", 2.0)
    monkeypatch.setattr(h2_rapid_reset, "BASELINE_S", 0.5)


@contextmanager
def started(tmp_path: Path, mode: str, h2: bool = True) -> Iterator[CheckContext]:
    server = definition(mode, h2)
    environment = Environment(Path(sys.prefix), "synthetic", {})
    tls = make_tls_material(tmp_path / "tls")
    launcher = Launcher(server, environment, tmp_path, PROFILES["quick"], tls)
    with launcher.launch("http") as shared:
        yield CheckContext(server, {}, PROFILES["quick"], shared, launcher)


@contextmanager
def h2c_only(tmp_path: Path, mode: str) -> Iterator[Instance]:
    """The tiny server alone, for one probe."""
    server = definition(mode)
    environment = Environment(Path(sys.prefix), "synthetic", {})
    tls = make_tls_material(tmp_path / "tls")
    launcher = Launcher(server, environment, tmp_path, PROFILES["quick"], tls)
    with launcher.launch("h2c") as instance:
        yield instance


def test_a_server_that_dies_under_rapid_reset_is_no(tmp_path: Path) -> None:
    with started(tmp_path, "fragile") as context:
        result = run_check(CHECK, context)
    assert result["outcome"] == "no", result["summary"]
    assert "stopped answering after the rapid reset probe" in result["summary"]
    assert result["evidence"]["rapid_reset"]["answered_after"]["status"] is None


def test_a_sound_server_refuses_extra_streams_and_bounds_the_rapid_reset(
    tmp_path: Path,
) -> None:
    with started(tmp_path, "sound") as context:
        result = run_check(CHECK, context)
    evidence = result["evidence"]
    assert evidence["kind"] == "h2c"
    for probe in PROBES:
        assert evidence[probe]["answered_after"]["status"] == "200", probe
    limit = evidence["stream_limit"]
    assert limit["verdict"] == "refused", limit
    assert (limit["max_concurrent_streams"], limit["held_open"], limit["served"]) == (10, 10, 10)
    assert limit["refused_codes"] == {"REFUSED_STREAM": 5}
    attack = evidence["rapid_reset"]["attack"]
    assert attack["first_close"]["goaway_code"] == 0xB  # ENHANCE_YOUR_CALM
    assert attack["connections"] >= 2  # the attacker came back after each GOAWAY
    assert attack["streams"] > 200
    assert evidence["rapid_reset"]["baseline"]["failures"] == 0
    assert evidence["unknown_frame"]["passed"] is True
    assert _schema_errors(evidence) == []


def _schema_errors(evidence: dict) -> list[str]:
    definitions = load_schema("check-evidence")["$defs"]
    validator = jsonschema.Draft202012Validator(
        {"$ref": "#/$defs/checks/http2-frames", "$defs": definitions}
    )
    return [error.message for error in validator.iter_errors(evidence)]


def test_closing_the_connection_over_the_stream_limit_is_partial(tmp_path: Path) -> None:
    with h2c_only(tmp_path, "closing") as instance:
        limit = h2_probes.stream_limit(instance)
    assert limit["verdict"] == "closed", limit
    assert limit["passed"] is False
    assert (limit["held_open"], limit["served"], limit["goaway_code"]) == (None, 0, 0x1)
    assert limit["goaway_last_stream_id"] == 19  # the 10 streams it took
    outcome, summary = http2_frames.judge(_evidence(stream_limit=limit), None)
    assert outcome == "partial"
    assert "closed the whole connection over streams beyond its limit" in summary


def test_a_server_that_takes_every_reset_has_not_bounded_the_attack(tmp_path: Path) -> None:
    with h2c_only(tmp_path, "tolerant") as instance:
        rapid = h2_rapid_reset.rapid_reset(instance)
    assert rapid["attack"]["first_close"] is None
    assert rapid["attack"]["connections"] == 1
    assert rapid["attack"]["streams"] > 200
    assert rapid["verdict"] in ("unbounded", "starved"), rapid["phrase"]
    assert "the server took every one" in rapid["phrase"]
    assert http2_frames.judge(_evidence(rapid_reset=rapid), None)[0] in ("partial", "no")


def test_without_an_http2_command_the_check_is_not_applicable(tmp_path: Path) -> None:
    with started(tmp_path, "sound", h2=False) as context:
        assert run_check(CHECK, context)["outcome"] == "not-applicable"


def _evidence(**overrides) -> dict:
    evidence = {
        "unknown_frame": {"passed": True, "phrase": "an unknown frame type was ignored"},
        "stream_limit": {"passed": True, "phrase": "the stream limit of 10 held"},
        "continuation_flood": {"sent_bytes": 65536, "ended": "goaway", "took_all": False},
        "rapid_reset": {"verdict": "bounded", "phrase": "rapid reset: bounded"},
    }
    for key, value in overrides.items():
        evidence[key] = {**evidence[key], **value}
    return evidence


@pytest.mark.parametrize(
    ("overrides", "down_after", "outcome", "words"),
    [
        ({}, None, "yes", "stayed up through every attack"),
        ({}, "settings flood", "no", "stopped answering after the settings flood probe"),
        (
            {"continuation_flood": {"took_all": True, "sent_bytes": 8 * 2**20}},
            None,
            "partial",
            "read a 8 MiB header block",
        ),
        (
            {"stream_limit": {"passed": False, "phrase": "15 of 15 served"}},
            None,
            "partial",
            "15 of 15 served",
        ),
        ({"unknown_frame": {"passed": False, "phrase": "it broke"}}, None, "partial", "broke"),
        (
            {"stream_limit": {"passed": False, "verdict": "closed", "phrase": "closed"}},
            None,
            "partial",
            "closed the whole connection over streams beyond its limit",
        ),
        ({"rapid_reset": {"verdict": "starved"}}, None, "no", "starved a second client"),
        ({"rapid_reset": {"verdict": "unbounded"}}, None, "partial", "did not bound the rapid"),
        ({"rapid_reset": {"verdict": "bounded"}}, None, "yes", "stayed up through every"),
        ({"rapid_reset": {"verdict": "error"}}, None, "error", "could not be measured"),
    ],
)
def test_the_judgement(overrides, down_after, outcome, words) -> None:
    judged = http2_frames.judge(_evidence(**overrides), down_after)
    assert judged[0] == outcome
    assert words in judged[1]


def _rapid_record(**attack) -> dict:
    return {
        "attack": {"streams": 5000, "seconds": 10.0, "connections": 1, **attack},
        "baseline": {"requests": 20, "failures": 0, "p50_ms": 5.0},
        "during": {"requests": 100, "failures": 0, "p50_ms": 6.0, "p99_ms": 40.0},
        "server_cpu_percent": 50.0,
    }


def test_a_goaway_bounds_the_rapid_reset_and_says_how_many_streams_it_took() -> None:
    close = {"goaway_code": 0xB, "last_stream_id": 41, "streams_sent": 100, "after_s": 0.1}
    verdict, phrase = h2_rapid_reset.judge_rapid_reset(_rapid_record(first_close=close))
    assert verdict == "bounded"
    assert "GOAWAY ENHANCE_YOUR_CALM 0.1 s in, naming stream 41 (21 streams)" in phrase


def test_refused_streams_bound_the_rapid_reset_too() -> None:
    record = _rapid_record(server_resets={"7": 30, "8": 2})
    assert (
        h2_rapid_reset.bounded_by(record["attack"]) == "refusing streams with REFUSED_STREAM (30)"
    )
    assert h2_rapid_reset.judge_rapid_reset(record)[0] == "bounded"


def test_a_bound_with_a_slow_second_client_is_unbounded_and_half_failed_is_starved() -> None:
    close = {"goaway_code": 0xB, "last_stream_id": 41, "streams_sent": 100, "after_s": 0.1}
    slow = _rapid_record(first_close=close)
    slow["during"]["p99_ms"] = 10 * 5.0 + 500  # past 10 x the unloaded median and 100 ms
    assert h2_rapid_reset.judge_rapid_reset(slow)[0] == "unbounded"
    starved = _rapid_record(first_close=close)
    starved["during"].update(requests=8, failures=4)
    assert h2_rapid_reset.judge_rapid_reset(starved)[0] == "starved"
    assert h2_rapid_reset.judge_rapid_reset(_rapid_record())[0] == "unbounded"


def test_the_stream_limit_verdicts() -> None:
    base = {"max_concurrent_streams": 100, "opened": 105, "goaway_code": None, "ended": "done"}
    refused = {**base, "held_open": 100, "refused": 5, "refused_codes": {"REFUSED_STREAM": 5}}
    assert h2_probes.judge_stream_limit({**refused, "served": 100})[0] == "refused"
    ignored = {**base, "held_open": 105, "refused": 0, "refused_codes": {}, "served": 105}
    assert h2_probes.judge_stream_limit(ignored)[0] == "ignored"
    closed = {**base, "held_open": None, "served": 0, "goaway_code": 1, "ended": "goaway"}
    verdict, phrase = h2_probes.judge_stream_limit({**closed, "goaway_last_stream_id": 199})
    assert verdict == "closed"
    assert "GOAWAY PROTOCOL_ERROR, naming stream 199 (100 streams) the last it took" in phrase
    assert {"refused", "ignored", "closed"} < set(H2_STREAM_LIMIT_VERDICTS)


def test_the_rapid_reset_verdicts_are_the_vocabulary() -> None:
    starved = _rapid_record()
    starved["during"].update(requests=2, failures=2, p99_ms=None)
    failed = _rapid_record()
    failed["attack"] = {"problem": "the attacker did not run"}
    close = {"goaway_code": 0xB, "last_stream_id": 41, "streams_sent": 100, "after_s": 0.1}
    records = [_rapid_record(), _rapid_record(first_close=close), starved, failed]
    verdicts = [h2_rapid_reset.judge_rapid_reset(record)[0] for record in records]
    assert sorted(verdicts) == sorted(H2_RAPID_RESET_VERDICTS)
