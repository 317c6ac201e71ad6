"""The ``locust-upstream`` scenario: the article "Django sync or async, that's the question"
(maerteijn, January 2025) reproduced with its own protocol, on the server as defined and on each
of its declared variants.

The article's views: a sync view that makes the three upstream calls (300, 600, 150 ms) in
parallel with a ThreadPoolExecutor (floor about 600 ms), and an async view that awaits them with
asyncio.gather. Its load: Locust FastHttpUser, no wait, 10 users a second up to 100. Its
timeout: Locust's default 60 s, so a saturated server shows as latency, not as failures. Its
servers: one process each ("one server process each" in its setup), so every figure here runs
one worker (``ARTICLE_WORKERS``) and says so, not the production count of the other scenarios.

The article's views build a new httpx client per request (an SSL context and CA bundle each
time), and every figure runs them so (``UPSTREAM_CLIENT=per-request``). On the profile's
``upstream_shared_client_servers``, the server as defined runs once more with one client per
process (``UPSTREAM_CLIENT=shared``): the page sets the CPU per answer of both side by side, so
a reader sees how much of the cap is client creation."""

from __future__ import annotations

from harness.benchmarks.django_setup import (
    PER_REQUEST_CLIENT,
    SHARED_CLIENT,
    SHARED_CLIENT_VARIANT,
    runs_variant,
    upstream_client_env,
)
from harness.benchmarks.figures import failed_figure
from harness.benchmarks.scenarios.bench import ServerBench
from harness.benchmarks.scenarios.locust_common import _locust_scenario
from harness.definitions import VARIANT_PREFIX
from harness.sizing import ARTICLE_SIZING, ARTICLE_WORKERS

# The article's view for each interface: both finish in about the longest delay; the sync one
# holds a worker thread (and three pool threads) for it, the async one holds nothing.
UPSTREAM_VIEW = {"wsgi": "upstream_threadpool", "asgi": "upstream_async"}
# The article's three calls (sampleproject/demo/upstream.py), made in parallel by both views.
UPSTREAM_DELAYS_MS = (300, 600, 150)


def physical_bound(bench: ServerBench, kind: str) -> dict[str, int | None]:
    """What bounds the answered rate whatever the server does: requests served at once
    (workers x threads; None for event loops, greenlets, a thread per request) and the least
    time each holds its thread (the longest call, the three running in parallel). At most
    ``requests_at_once`` / ``request_floor_ms`` answers a second can arrive, which the
    pages and tests check published rates against."""
    return {
        "requests_at_once": bench.definition.requests_at_once(kind, ARTICLE_WORKERS),
        "request_floor_ms": max(UPSTREAM_DELAYS_MS),
    }


def locust_upstream(bench: ServerBench) -> None:
    """The server as defined, then each of its declared variants (other thread counts...)."""
    view = UPSTREAM_VIEW[bench.definition.interface]
    params = {
        "endpoint": view,
        "path": bench.endpoints[view],
        "upstream_delays_ms": list(UPSTREAM_DELAYS_MS),
        "sizing": ARTICLE_SIZING,
        "upstream_client": PER_REQUEST_CLIENT,
    }
    if bench.upstream is None or not bench.upstream.running:
        problem = bench.upstream.problem if bench.upstream else "it was not started"
        reason = f"the upstream service is not running: {problem}"
        bench.add(failed_figure("locust-upstream", view, params, reason))
        return
    env = {"SERVING_DJANGO_PATH": bench.endpoints[view]}
    settings = bench.settings
    steps = settings.upstream_steps
    protocol = {
        "ramp_s": settings.upstream_ramp_s,
        "spawn_rate": settings.upstream_spawn_rate,
        "timeout_s": settings.upstream_timeout_s,
        "repeats": settings.upstream_repeats,
        "workers": ARTICLE_WORKERS,
    }
    article_client = upstream_client_env(PER_REQUEST_CLIENT)
    _locust_scenario(
        bench,
        "locust-upstream",
        view,
        "upstream.py",
        steps,
        {**params, **physical_bound(bench, "http")},
        env,
        server_env=article_client,
        **protocol,
    )
    if runs_variant(settings.upstream_shared_client_servers, bench.definition.id):
        shared = {
            **params,
            **physical_bound(bench, "http"),
            "upstream_client": SHARED_CLIENT,
            "variant": SHARED_CLIENT_VARIANT,
        }
        _locust_scenario(
            bench,
            "locust-upstream",
            f"{view}, {SHARED_CLIENT_VARIANT}",
            "upstream.py",
            steps,
            shared,
            env,
            server_env=upstream_client_env(SHARED_CLIENT),
            **protocol,
        )
    for variant in bench.definition.variants.values():
        kind = f"{VARIANT_PREFIX}{variant.name}"
        described = {
            **params,
            **physical_bound(bench, kind),
            "variant": variant.name,
            "variant_label": variant.label,
            "command": bench.launcher.command(kind, "{port}", shown=True, workers=ARTICLE_WORKERS),
        }
        figure = f"{view}, {variant.name}"
        _locust_scenario(
            bench,
            "locust-upstream",
            figure,
            "upstream.py",
            steps,
            described,
            env,
            kind,
            server_env=article_client,
            **protocol,
        )
