"""Run Locust headless with stepped load and turn its statistics into a Measurement.

The locustfiles in ``locustfiles/`` step their users with ``_steps.StepShape`` and, when
SERVING_DJANGO_STEP_STATS names a directory, write per-step statistics there (one file per
process that sent requests). The figures come from those files, added up: a request counts
in the step in force when it was sent (so a ramp counts for the step being ramped to), and the
totals are every request of the run, to 1 ms. Locust's ``--json-file`` proves that Locust
finished, is checked against the files, and stands in for them when a locustfile writes none
(then only a one-step run has per-step figures). See ``_steps`` for the bucketing.

Rates are requests sent during a step over the step's duration; the run's rate is requests sent
during the steps over their total duration. Requests sent after the last step (users finishing
their task during ``--stop-timeout``) are in the totals and in no step.

Metric names end in their unit; ``None`` means "not measured". ``highest_ok_users`` is the
largest step user count whose requests all succeeded; ``None`` there means no step did (even
the first had failures), or that no per-step statistics exist, which a note then says.

One module per job: ``command`` builds the command line and the environment that carries the
steps; ``run`` starts Locust, waits for it and judges what it left behind; ``stats`` reads its
statistics (the per-step files and ``--json-file``) into metrics.
"""

from __future__ import annotations

from harness.benchmarks.locust.command import locust_version

__all__ = ["locust_version"]
