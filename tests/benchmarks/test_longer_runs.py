"""An h2load figure whose answers take longer than the run is measured again, longer, and its
later repeats go straight to the longer run. Real h2load against tests/apps/tiny_http.py
(synthetic), whose /sleep path answers after the seconds it is given; nothing asserts a timing.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

from harness.benchmarks.scenarios import LONGER_RUN_FACTOR, _h2load
from harness.benchmarks.settings import BENCHMARK_SETTINGS
from harness.network import make_tls_material
from tests.conftest import instance_for

RUN_S = 0.5
ANSWER_S = 1.0  # longer than a run, shorter than the longer run


def test_a_run_too_short_for_its_answers_is_measured_longer_in_every_repeat(
    tiny_server, tmp_path: Path
) -> None:
    base_url, process = tiny_server("threaded")
    instance = instance_for(base_url, process)
    bench = SimpleNamespace(
        endpoints={"slow": f"/sleep?seconds={ANSWER_S:g}"},
        settings=replace(BENCHMARK_SETTINGS["quick"], duration_s=RUN_S, warmup_s=0.1),
        launcher=SimpleNamespace(tls=make_tls_material(tmp_path / "tls")),
        scratch=tmp_path,
        longer_runs=set(),
    )

    first = _h2load(bench, instance, base_url, "slow", 2, "http/1.1")
    second = _h2load(bench, instance, base_url, "slow", 2, "http/1.1")

    assert first.ok, first.failure
    longer_s = RUN_S * LONGER_RUN_FACTOR
    assert first.details["notes"][-1].startswith(f"measured over {longer_s:g} s instead of")
    assert "the shorter run failed" in first.details["notes"][-1]
    assert first.metrics["requests_per_s"] > 0
    assert second.ok, second.failure
    assert "as an earlier repeat of this figure had to be" in second.details["notes"][-1]
    assert len(bench.longer_runs) == 1
