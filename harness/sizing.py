"""How many CPUs a server is sized for, and the sizing every run and figure records.

A configuration declares its production worker and thread counts per CPU (``[production]``
in its definition, from its own documentation); this module says for how many CPUs they are
computed. The benchmarks pin the server to one CPU (``harness/benchmarks/pinning.py``), so a
server is sized for one. The checks are not pinned, but they use the same sizing, so that a
verdict ("3 workers x 8 threads = 24: the 25th request waited") describes the server that the
benchmark pages measure and the server page's command starts.

The articles this project reproduces ran one server process; their reproductions pass
``ARTICLE_WORKERS`` instead of the production count, and their figures say so.
"""

from __future__ import annotations

from typing import Any

from harness.definitions import ServerDefinition

# The one number: CPUs a server is sized for, here and in every file that records a run.
SERVER_CPUS = 1
# The one-process protocol of the articles whose benchmarks are reproduced (locust-upstream).
ARTICLE_WORKERS = 1
ARTICLE_SIZING = "the article's: one server process"


def sizing_record(
    definition: ServerDefinition, cpus: int = SERVER_CPUS, workers: int | None = None
) -> dict[str, Any]:
    """How a server was sized for a run: its CPUs, worker processes, threads per worker,
    capacity (sync requests at once; None where unbounded), the rule in words and its source.
    ``workers`` names a count other than the production one (an article's protocol)."""
    production = definition.production
    counted = definition.production_workers(cpus)
    threads = definition.production_threads
    return {
        "cpus": cpus,
        "workers": counted if workers is None else workers,
        "threads": threads,
        "capacity": definition.capacity(cpus)
        if workers is None
        else (None if threads is None else workers * threads),
        "serves": production.serves,
        "rule": production.rule if workers is None else ARTICLE_SIZING,
        "docs": production.docs,
        "loop": production.loop,
    }
