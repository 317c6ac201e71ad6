"""Run h2load once for a fixed duration and turn its output into a Measurement.

Rates and counters come from h2load's summary lines, percentiles from its per-request
``--log-file`` (deleted once read). h2load exits 0 even when every request failed, so its exit
code proves nothing: a run is valid only if its output says so (see ``failure_reason``).
RESEARCH.md section 1 holds the facts relied on here, each checked against h2load 1.52.

Metric names end in their unit; ``None`` means "not measured". Percentages are of h2load's
``total``. A failed run has no metrics at all: what was parsed is kept in ``details["parsed"]``,
so nothing from it can be published as a figure.

One module per job: ``command`` builds the command line; ``run`` runs it (in its own process
group, killed when it hangs) and makes the Measurement; ``output`` reads the summary lines and
the per-request log into metrics; ``validity`` says why a run is no valid figure
(``failure_reason``); ``version`` asks h2load for its version.
"""

from __future__ import annotations

from harness.benchmarks.h2load.version import h2load_version

__all__ = ["h2load_version"]
