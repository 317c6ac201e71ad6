"""The ``convergence`` scenario (opt-in, ``--scenario convergence``): does the window rule give
figures that hold?

For the interface's own JSON view over HTTP/1.1 at the profile's convergence client counts,
each round measures on one fresh server the figure as the h2load scenario does (the rule's
window, ``factor 1``) and over a window ``convergence_factor`` times longer, the longer one
first in every other round, so drift over a server's life lands on both. The site's
convergence page sets the medians side by side against the stated targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.benchmarks.figures import figure_record, measure_in_rounds
from harness.benchmarks.measurement import Measurement
from harness.benchmarks.scenarios.bench import ServerBench, ServerGone, _failures
from harness.benchmarks.scenarios.h2load_common import _h2load, _h2load_params, native_json

SCENARIO = "convergence"

Key = tuple[int, float]  # (clients, window factor)


def convergence(bench: ServerBench) -> None:
    settings = bench.settings
    endpoint = native_json(bench.definition)
    long_factor = settings.convergence_factor
    keys: list[Key] = [
        (clients, factor)
        for clients in settings.convergence_clients
        for factor in (1.0, long_factor)
    ]
    rule_windows: dict[int, float] = {}  # clients -> the rule's window, from the factor-1 run
    rounds = [0]

    def run_round(pending: Sequence[Key]) -> dict[Key, Measurement]:
        # Every other round measures the longer window first, so that a server that slows
        # down (or speeds up) over its life does not favour one window (the first round must
        # start with the rule's window: it tells the longer one its length).
        rounds[0] += 1
        longer_first = rounds[0] % 2 == 0
        ordered = sorted(pending, key=lambda key: (key[0], -key[1] if longer_first else key[1]))
        try:
            with bench.server("http") as instance:
                results: dict[Key, Measurement] = {}
                for clients, factor in ordered:
                    if factor == 1.0:
                        measured = _h2load(
                            bench, instance, instance.base_url, endpoint, clients, "http/1.1"
                        )
                        if measured.details.get("window_s"):
                            rule_windows.setdefault(clients, measured.details["window_s"])
                    elif clients not in rule_windows:
                        measured = Measurement(
                            failure="the rule's window is unknown: its factor-1 run failed"
                        )
                    else:
                        window = round(rule_windows[clients] * factor, 1)
                        measured = _h2load(
                            bench,
                            instance,
                            instance.base_url,
                            endpoint,
                            clients,
                            "http/1.1",
                            duration_s=window,
                        )
                    results[(clients, factor)] = measured
                return results
        except ServerGone as gone:
            return _failures(pending, str(gone))

    repeats = measure_in_rounds(keys, run_round, settings)
    for (clients, factor), measured in repeats.items():
        params: dict[str, Any] = {
            **_h2load_params(bench, "http/1.1", endpoint, clients, measured),
            "window_factor": factor,
            "window_rule": (
                f"{settings.window_requests_per_client:g} requests per client at a "
                f"{settings.window_probe_s:g} s probe's rate, within "
                f"{settings.duration_s:g}-{settings.max_window_s:g} s"
            ),
        }
        figure = f"http/1.1 {endpoint} c={clients} window x{factor:g}"
        bench.add(figure_record(SCENARIO, figure, params, measured))
