"""The ``locust-upstream`` scenario: a page that waits on a slow upstream service, on the
server as defined and on each of its declared variants."""

from __future__ import annotations

from harness.benchmarks.figures import failed_figure
from harness.benchmarks.scenarios.bench import ServerBench
from harness.benchmarks.scenarios.locust_common import _locust_scenario
from harness.definitions import VARIANT_PREFIX

# The slow-upstream page each interface is built for: sync views call the upstream one call
# after the other; the async view awaits the three calls at once.
UPSTREAM_VIEW = {"wsgi": "upstream_sequential", "asgi": "upstream_async"}


def locust_upstream(bench: ServerBench) -> None:
    """The server as defined, then each of its declared variants (other thread counts...)."""
    view = UPSTREAM_VIEW[bench.definition.interface]
    params = {
        "endpoint": view,
        "path": bench.endpoints[view],
        "upstream_delays_ms": [300, 600, 150],
    }
    if bench.upstream is None or not bench.upstream.running:
        problem = bench.upstream.problem if bench.upstream else "it was not started"
        reason = f"the upstream service is not running: {problem}"
        bench.add(failed_figure("locust-upstream", view, params, reason))
        return
    env = {"SERVING_DJANGO_PATH": bench.endpoints[view]}
    steps = bench.settings.upstream_steps
    _locust_scenario(bench, "locust-upstream", view, "upstream.py", steps, params, env)
    for variant in bench.definition.variants.values():
        kind = f"{VARIANT_PREFIX}{variant.name}"
        described = {
            **params,
            "variant": variant.name,
            "variant_label": variant.label,
            "command": bench.launcher.command(kind, "{port}", shown=True),
        }
        figure = f"{view}, {variant.name}"
        _locust_scenario(
            bench, "locust-upstream", figure, "upstream.py", steps, described, env, kind
        )
