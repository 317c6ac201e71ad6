"""The http2-frames check against tiny HTTP/2 servers: one that survives every probe and one
that dies after a burst of stream resets (rapid reset); and its judgement on hand-made
evidence."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.checks import CheckContext, run_check
from harness.checks.hazards import http2_frames
from harness.environments import Environment
from harness.launcher import Launcher
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


@contextmanager
def started(tmp_path: Path, mode: str, h2: bool = True) -> Iterator[CheckContext]:
    server = definition(mode, h2)
    environment = Environment(Path(sys.prefix), "synthetic", {})
    tls = make_tls_material(tmp_path / "tls")
    launcher = Launcher(server, environment, tmp_path, PROFILES["quick"], tls)
    with launcher.launch("http") as shared:
        yield CheckContext(server, {}, PROFILES["quick"], shared, launcher)


def test_a_server_that_dies_under_rapid_reset_is_no(tmp_path: Path) -> None:
    with started(tmp_path, "fragile") as context:
        result = run_check(CHECK, context)
    assert result["outcome"] == "no", result["summary"]
    assert "stopped answering after the rapid reset probe" in result["summary"]
    assert result["evidence"]["rapid_reset"]["answered_after"]["status"] is None


def test_a_sound_server_answers_after_every_probe_and_keeps_its_stream_limit(
    tmp_path: Path,
) -> None:
    with started(tmp_path, "sound") as context:
        result = run_check(CHECK, context)
    evidence = result["evidence"]
    assert evidence["kind"] == "h2c"
    for probe in PROBES:
        assert evidence[probe]["answered_after"]["status"] == "200", probe
    assert evidence["stream_limit"]["max_concurrent_streams"] == 10
    assert evidence["stream_limit"]["served"] <= 10
    assert evidence["unknown_frame"]["passed"] is True


def test_without_an_http2_command_the_check_is_not_applicable(tmp_path: Path) -> None:
    with started(tmp_path, "sound", h2=False) as context:
        assert run_check(CHECK, context)["outcome"] == "not-applicable"


def _evidence(**overrides) -> dict:
    evidence = {
        "unknown_frame": {"passed": True, "phrase": "an unknown frame type was ignored"},
        "stream_limit": {"passed": True, "phrase": "the stream limit of 10 held"},
        "continuation_flood": {"sent_bytes": 65536, "ended": "goaway", "took_all": False},
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
        ({"unknown_frame": {"passed": False, "phrase": "broke"}}, None, "partial", "broke"),
    ],
)
def test_the_judgement(overrides, down_after, outcome, words) -> None:
    judged = http2_frames.judge(_evidence(**overrides), down_after)
    assert judged[0] == outcome
    assert words in judged[1]
