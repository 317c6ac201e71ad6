"""A rate is published as a throughput only when it counts answered requests: every registered
rate metric either counts answered requests by definition, or is hidden (in tables, headlines,
charts and the fastest-figure ranking) wherever requests failed in the runs it comes from."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence.metrics import METRICS, REQUESTS_PER_S
from evidence.validation import load_evidence
from generators.benchmarks.cells import headline, value_cell
from generators.benchmarks.figure import Figure
from generators.render import render_pages
from tests import synthetic

RATES = [m.name for m in METRICS if m.unit is REQUESTS_PER_S and m.achieved_rate]
ANSWERED_ONLY = {"answered_per_s", "max_step_answered_per_s"}


def _figure(metrics: dict[str, float]) -> Figure:
    record = synthetic.figure("h2load", "f", {"tool": "h2load"}, [metrics])
    return Figure(record, {"id": "x", "name": "X"}, "m", "c", "standard", "s", False, None, None)


def test_every_achieved_rate_is_answered_only_or_hidden_when_requests_failed() -> None:
    assert {"answered_per_s", "requests_per_s"} <= set(RATES)
    for name in RATES:
        prefix_failed = {"failed_percent": 40.0, "failures_percent": 40.0}
        cell = str(value_cell(_figure({name: 12345.0, **prefix_failed}), name))
        if name in ANSWERED_ONLY:
            assert "12,345" in cell, name
        else:
            assert "12,345" not in cell and "not a throughput" in cell, name
        clean = str(value_cell(_figure({name: 12345.0, "failed_percent": 0.0}), name))
        assert "12,345" in clean, name


@pytest.mark.parametrize("prefix", ["step300_", "with_", "without_"])
def test_composed_rates_follow_their_own_failures(prefix: str) -> None:
    failing = _figure({f"{prefix}requests_per_s": 900.0, f"{prefix}failures_percent": 5.0})
    assert failing.counts_failures(f"{prefix}requests_per_s")
    fine = _figure({f"{prefix}requests_per_s": 900.0, f"{prefix}failures_percent": 0.0})
    assert not fine.counts_failures(f"{prefix}requests_per_s")


def test_one_failing_repeat_is_enough_to_withhold_the_rate() -> None:
    record = synthetic.figure(
        "h2load",
        "f",
        {"tool": "h2load"},
        [
            {"requests_per_s": 900.0, "failed_percent": 0.0},
            {"requests_per_s": 910.0, "failed_percent": 0.0},
            {"requests_per_s": 950.0, "failed_percent": 30.0},
        ],
    )
    figure = Figure(record, {"id": "x", "name": "X"}, "m", "c", "standard", "s", False, None, None)
    assert figure.metric("failed_percent") == 0.0  # the median hides it...
    assert figure.counts_failures("requests_per_s")  # ...the worst repeat does not
    assert figure.best_rate() is None
    assert "not a throughput" in str(headline(figure))


def test_the_h2load_page_and_chart_publish_no_rate_of_failed_requests(tmp_path: Path) -> None:
    failing = synthetic.h2load_figure([851.0] * 3, endpoint="json_async")
    failed = {**synthetic.h2load_metrics(851.0), "failed_percent": 100.0, "non2xx_percent": 100.0}
    failing = synthetic.figure("h2load", failing["figure"], failing["params"], [failed] * 3)
    good = synthetic.h2load_figure([777.0] * 3)
    synthetic.write_data(
        tmp_path, [synthetic.run("alpha")], [synthetic.benchmark("alpha", [failing, good])]
    )
    pages = render_pages(load_evidence(tmp_path))
    h2load = pages["benchmarks/h2load.md"]
    assert "not a throughput: up to 100.0 % of requests failed" in h2load
    assert "851" not in h2load and "777" in h2load
    charts = [svg for name, svg in pages.items() if name.startswith("benchmarks/charts/h2load")]
    assert any("no throughput: 100 % failed" in svg for svg in charts)
    assert not any(">851<" in svg for svg in charts)
    assert "not a throughput" in pages["servers/alpha.md"]
    rows = [line for line in pages["data/benchmarks.csv"].splitlines() if ",851" in line]
    assert rows and all("not a throughput" in line for line in rows)


def test_a_latency_the_window_could_not_observe_is_not_published_as_measured() -> None:
    base = {"tool": "h2load", "duration_s": 1.0}

    def figure(metrics: dict[str, float]) -> Figure:
        record = synthetic.figure("h2load", "f", base, [metrics])
        return Figure(record, {"id": "x", "name": "X"}, "m", "c", "quick", "s", False, None, None)

    slow = figure({"latency_p50_ms": 620.0, "latency_p99_ms": 983.0, "requests_total": 5000})
    assert "cut off by the 1 s window: at least 620 ms" in str(value_cell(slow, "latency_p50_ms"))
    few = figure({"latency_p50_ms": 3.0, "latency_p99_ms": 5.2, "requests_total": 315})
    assert "3.00" in str(value_cell(few, "latency_p50_ms"))  # 157 requests above a p50
    assert "too few requests: 315 in all, about 3 above it" in str(
        value_cell(few, "latency_p99_ms")
    )
    enough = figure({"latency_p99_ms": 5.2, "requests_total": 5000})
    assert str(value_cell(enough, "latency_p99_ms")).startswith("5.20")
    # Locust figures have windows of their own (30 s steps): the rule is h2load's.
    locust = Figure(
        synthetic.figure("locust-upstream", "f", {"tool": "locust"}, [{"latency_p95_ms": 900.0}]),
        {"id": "x", "name": "X"},
        "m",
        "c",
        "quick",
        "s",
        False,
        None,
        None,
    )
    assert locust.unobservable("latency_p95_ms") is None


def test_a_rate_from_few_requests_per_client_is_shown_with_its_step() -> None:
    """At 200 clients and 6 answers each, one more answer per client is 17 % more: the cell
    says so. Enough answers per client, a paced or non-h2load figure: no mark."""

    def figure(totals: list[int], tool: str = "h2load", clients: int = 200) -> Figure:
        repeats = [{"answered_per_s": total / 5.0, "requests_total": total} for total in totals]
        params = {"tool": tool, "clients": clients, "duration_s": 5.0}
        record = synthetic.figure("h2load", "f", params, repeats)
        return Figure(
            record, {"id": "x", "name": "X"}, "m", "c", "standard", "s", False, None, None
        )

    coarse = figure([1400, 1200, 1600])  # the fewest: 6 per client
    cell = str(value_cell(coarse, "answered_per_s"))
    assert "280" in cell  # the figure is still shown...
    assert (
        "coarse: 6.0 requests per client in a repeat, "
        "and one more or fewer per client moves the rate 17 %"
    ) in cell
    assert coarse.coarse_rate("latency_p50_ms") is None  # ...and only rates are marked
    assert figure([2000, 2400]).coarse_rate("answered_per_s") is None  # 10 per client
    assert figure([1400], tool="locust").coarse_rate("answered_per_s") is None
    assert figure([0, 2400]).coarse_rate("answered_per_s") == "a repeat finished no request"
