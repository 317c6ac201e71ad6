"""The ``locust-polls`` scenario: users voting in the polls app (SQLite), in steps."""

from __future__ import annotations

from harness.benchmarks.scenarios.bench import ServerBench
from harness.benchmarks.scenarios.locust_common import _locust_scenario


def locust_polls(bench: ServerBench) -> None:
    _locust_scenario(
        bench,
        "locust-polls",
        "polls vote, SQLite",
        "polls.py",
        bench.settings.polls_steps,
        {"database": "SQLite", "wait_s": "between 1 and 2", "task": "GET vote form, POST vote"},
    )
