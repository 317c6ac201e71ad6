"""The window rule and the convergence scenario that checks it: the rule's arithmetic, the
capture of both windows in one round on a real server, and the page's verdicts (SYNTHETIC
figures for the verdicts)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from evidence.validation import load_evidence
from evidence.vocabulary import OPT_IN_SCENARIOS, STANDARD_SCENARIOS
from generators.render import render_pages
from harness.benchmarks.scenarios.h2load_common import window_s
from harness.benchmarks.settings import BENCHMARK_SETTINGS
from tests import synthetic

STANDARD = BENCHMARK_SETTINGS["standard"]


@pytest.mark.parametrize(
    ("clients", "answered_per_s", "window"),
    [
        (200, 4000.0, STANDARD.duration_s),  # fast: every client completes 10 in the minimum
        (500, 200.0, 25.0),  # slow at 500 clients: 10 requests each need 25 s
        (500, 20.0, STANDARD.max_window_s),  # slower still: capped
        (500, None, STANDARD.duration_s),  # the probe failed: the minimum, said in its notes
    ],
)
def test_the_window_lets_every_client_complete_its_requests(clients, answered_per_s, window):
    assert STANDARD.window_requests_per_client == 10
    assert window_s(STANDARD, clients, answered_per_s) == window


def test_without_the_rule_the_window_is_the_profile_duration():
    quick = BENCHMARK_SETTINGS["quick"]
    assert quick.window_requests_per_client == 0
    assert window_s(quick, 500, 10.0) == quick.duration_s
    assert window_s(replace(quick, duration_s=2.0), 500, 10.0) == 2.0


def test_convergence_runs_only_when_named():
    assert "convergence" in OPT_IN_SCENARIOS
    assert "convergence" not in STANDARD_SCENARIOS


def _pair(server: str, clients: int, short: list[float], long: list[float], p99=(40.0, 42.0)):
    def figure(factor: float, rates: list[float], p99_ms: float, window: float) -> dict:
        params = {
            "tool": "h2load",
            "protocol": "http/1.1",
            "endpoint": "json_async",
            "clients": clients,
            "duration_s": window,
            "window_factor": factor,
        }
        repeats = [
            {**synthetic.h2load_metrics(rate), "answered_per_s": rate, "latency_p99_ms": p99_ms}
            | {"requests_total": rate * window}
            for rate in rates
        ]
        name = f"http/1.1 json_async c={clients} window x{factor:g}"
        return synthetic.figure("convergence", name, params, repeats)

    return [figure(1.0, short, p99[0], 8.0), figure(3.0, long, p99[1], 24.0)]


def test_the_page_sets_both_windows_side_by_side_with_a_verdict(tmp_path: Path):
    results = [
        *_pair("uvicorn", 200, [1000.0, 1010.0, 990.0], [1020.0, 1030.0, 1010.0]),
        *_pair("uvicorn", 500, [600.0, 610.0, 590.0], [1000.0, 990.0, 1010.0], p99=(40.0, 80.0)),
    ]
    synthetic.write_data(
        tmp_path,
        [synthetic.run("uvicorn", name="Uvicorn", interface="asgi")],
        [synthetic.benchmark("uvicorn", results, name="Uvicorn")],
    )

    page = render_pages(load_evidence(tmp_path))["benchmarks/convergence.md"]

    rows = [line for line in page.splitlines() if line.startswith("| [Uvicorn]") and "→" in line]
    assert len(rows) == 2
    at_200, at_500 = sorted(rows, key=lambda row: "| 500 |" in row)
    assert "8 s → 24 s" in at_200
    assert "-2.0 %" in at_200 and at_200.count("**holds**") == 2  # p99 40 vs 42: -4.8 %
    assert "-40.0 %" in at_500 and "-50.0 %" in at_500 and at_500.count("**misses**") == 2
