"""How long and how much each benchmark scenario measures, per profile.

The standard profile keeps every scenario and every protocol, measures the full client sweep
(1, 200, 500) only for the JSON view written for the server's interface over plain HTTP/1.1,
and the other views and protocols at 200 clients. Its windows follow a rule whose figures
hold (the ``convergence`` scenario checks it): an h2load window lasts at least 5 s after 1 s of
warm-up, and long enough for every client to complete 10 requests at the rate a 1 s probe
answered (500 clients at 200 answers a second: 25 s), up to 30 s: a short window undercounts
a slow server at many clients and cannot observe a latency longer than itself. The budget
goes to extra repeats of the figures whose spread is widest. The figures compared across
servers (each configuration's own JSON view at 1 and 200 clients) are measured again in at
least three interleaved rounds of every configuration, with Django's default middleware stack
and with none, and two reference apps (``interleaved``), and in up to five while a reference
app's rate varies between rounds by more than 10 % (CV). The polls reproduction runs
unpooled, and the slow-upstream one with a shared client, on four declared configurations
beside the setup every configuration runs. ``full`` measures every combination, longer and
more often, for dedicated hardware.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from harness.benchmarks.measurement import CV_FLAG_PERCENT

# The sample-project views the h2load scenario requests (names from endpoints.toml).
H2LOAD_ENDPOINTS = ("json_sync", "json_async", "home")
# How the h2load scenario reaches the server: the launcher kind, and h2load's protocol.
PROTOCOLS = {
    "http/1.1": ("http", "http/1.1"),
    "http/1.1+tls": ("tls", "http/1.1"),
    "h2+tls": ("http2_tls", "h2"),
    "h2c": ("h2c", "h2c"),
    "nginx-h2+tls": ("http", "h2"),  # nginx terminates TLS and HTTP/2, HTTP/1.1 to the server
}


@dataclass(frozen=True)
class BenchmarkSettings:
    repeats: int  # every figure is measured at least this often
    max_repeats: int  # figures whose CV exceeds 10 % get extra repeats, up to this many
    warmup_s: float
    duration_s: float  # an h2load run's window, at least (see the window rule below)
    # The window rule: an h2load figure's window is long enough for every client to complete
    # this many requests, at the answered rate of a window_probe_s run made first (0: off, the
    # window is duration_s), and at most max_window_s.
    window_requests_per_client: float
    window_probe_s: float
    max_window_s: float
    clients: tuple[int, ...]  # the h2load sweep of the interface's own JSON view, HTTP/1.1
    other_endpoint_clients: tuple[int, ...]  # the other views over HTTP/1.1
    other_protocol_clients: tuple[int, ...]  # ... and over the other protocols
    other_protocol_endpoints: tuple[str, ...]
    # fixed-rate-latency (openload): requests due on a fixed schedule at these fractions of
    # the maximum that a closed-loop probe of fixed_rate_probe_s measured, over a pool of
    # fixed_rate_connections; each window's answers are awaited fixed_rate_drain_s at most.
    fixed_rate_fractions: tuple[float, ...]
    fixed_rate_warmup_s: float
    fixed_rate_probe_s: float
    fixed_rate_duration_s: float
    fixed_rate_drain_s: float
    fixed_rate_connections: int
    # idle-connections: up to idle_bound connections opened, until all settled, none settled
    # for idle_stall_s (the server took no more: its limit) or idle_open_deadline_s; then
    # held idle_hold_s, with the memory read and a fresh request made halfway; idle_repeats
    # fresh servers per figure (the scenario's own count: thousands of opens cost seconds).
    idle_bound: int
    idle_open_deadline_s: float
    idle_stall_s: float
    idle_hold_s: float
    idle_repeats: int
    polls_steps: tuple[tuple[int, float], ...]  # (users, seconds)
    upstream_steps: tuple[tuple[int, float], ...]
    locust_timeout_s: float  # a request slower than this counts as failed
    # The slow-upstream article's protocol: users arrive at a spawn rate, the ramp is left out
    # of the figures, and the timeout is Locust's own default, so that saturation shows as
    # latency (as in the article), not as failures.
    upstream_ramp_s: float
    upstream_spawn_rate: float
    upstream_timeout_s: float
    upstream_repeats: int
    # The polls article's setup (PostgreSQL, nginx): users 100 to 700, each step's ramp left out.
    polls_article_steps: tuple[tuple[int, float], ...]
    polls_article_ramp_s: float
    polls_article_timeout_s: float
    polls_article_repeats: int
    calibration_duration_s: float
    # The convergence scenario (opt-in): these client counts of the interface's own JSON view
    # are measured with the rule's window and with a window this many times longer.
    convergence_clients: tuple[int, ...] = (200, 500)
    convergence_factor: float = 3.0
    # The interleaved scenario: these client counts of each configuration's own JSON view and
    # of the reference apps, every target once per round, at least interleaved_rounds rounds;
    # then more rounds, up to interleaved_max_rounds, while a reference app's answered/s still
    # varies between rounds by more than interleaved_reference_cv_percent (CV): the references
    # measure the machine, and a machine that moved them that much moved every figure.
    interleaved_clients: tuple[int, ...] = (1, 200)
    interleaved_rounds: int = 3
    interleaved_max_rounds: int = 5
    interleaved_reference_cv_percent: float = 10.0
    # Locust worker processes under one master (Locust's --processes); 1: a single process.
    locust_processes: int = 1
    # The middleware stacks every configuration is measured with in the interleaved rounds
    # (django_setup: "production", Django's default stack with the static-files middleware,
    # and "none"), each a target of its own in the same rounds.
    interleaved_middleware_stacks: tuple[str, ...] = ("production", "none")
    # The configurations ("*": every one) that also run the expensive variants, beside the
    # setup every configuration runs: the polls reproduction unpooled (a new PostgreSQL
    # connection per request; the setup is Django's psycopg pool), and the slow-upstream one
    # with one httpx client per process (the setup is the article's client per request). Two
    # ASGI and two WSGI configurations that show the difference in the capture before pooling
    # (20261205T054906Z): unpooled, uvicorn and granian-asgi failed a quarter of the votes from
    # 300 users with PostgreSQL at max_connections, gunicorn-gevent a third, while
    # gunicorn-gthread (8 threads, 8 connections) failed none; with the per-request client,
    # uvicorn, granian-asgi and gunicorn-gevent were CPU-bound near 33/s and gunicorn-gthread
    # thread-bound at 12/s and 37 % of its core.
    polls_unpooled_servers: tuple[str, ...] = (
        "uvicorn",
        "granian-asgi",
        "gunicorn-gevent",
        "gunicorn-gthread",
    )
    upstream_shared_client_servers: tuple[str, ...] = (
        "uvicorn",
        "granian-asgi",
        "gunicorn-gevent",
        "gunicorn-gthread",
    )

    def as_record(self) -> dict[str, Any]:
        """What every benchmark file stores of how it was measured (pages read it from there,
        never from this code, which may have changed since)."""
        return {**asdict(self), "cv_flag_percent": CV_FLAG_PERCENT}


BENCHMARK_SETTINGS = {
    # CI smoke: every scenario runs and is recorded, in seconds per server; figures are not
    # meant to be read (one repeat, tiny loads).
    "quick": BenchmarkSettings(
        repeats=1,
        max_repeats=1,
        warmup_s=0.2,
        duration_s=0.5,
        window_requests_per_client=0,
        window_probe_s=0.5,
        max_window_s=1,
        clients=(10,),
        other_endpoint_clients=(10,),
        other_protocol_clients=(10,),
        other_protocol_endpoints=("json_sync",),
        fixed_rate_fractions=(0.5,),
        fixed_rate_warmup_s=0.2,
        fixed_rate_probe_s=0.5,
        fixed_rate_duration_s=0.5,
        fixed_rate_drain_s=2,
        fixed_rate_connections=5,
        idle_bound=20,
        idle_open_deadline_s=3,
        idle_stall_s=1,
        idle_hold_s=0.5,
        idle_repeats=1,
        polls_steps=((5, 1.5),),
        # Rates count answers that arrive inside the window, and every answer takes at least
        # the longest upstream call (0.6 s): a ramp and a window of a few calls each.
        upstream_steps=((5, 4.0),),
        locust_timeout_s=5,
        upstream_ramp_s=1.5,
        upstream_spawn_rate=10,
        upstream_timeout_s=10,
        upstream_repeats=1,
        polls_article_steps=((5, 2.0), (10, 2.0)),
        polls_article_ramp_s=0.5,
        polls_article_timeout_s=10,
        polls_article_repeats=1,
        calibration_duration_s=0.5,
        convergence_clients=(10,),
        interleaved_clients=(10,),
        interleaved_rounds=2,
        interleaved_max_rounds=2,
    ),
    "standard": BenchmarkSettings(
        repeats=3,
        max_repeats=4,
        warmup_s=1.0,
        duration_s=5.0,
        window_requests_per_client=10,
        window_probe_s=1.0,
        max_window_s=30,
        clients=(1, 200, 500),
        other_endpoint_clients=(200,),
        other_protocol_clients=(200,),
        other_protocol_endpoints=("json_sync",),
        fixed_rate_fractions=(0.25, 0.5, 0.75),
        fixed_rate_warmup_s=2,
        fixed_rate_probe_s=5,
        fixed_rate_duration_s=10,
        fixed_rate_drain_s=10,
        fixed_rate_connections=50,
        idle_bound=2000,
        idle_open_deadline_s=15,
        idle_stall_s=3,
        idle_hold_s=3,
        idle_repeats=1,
        polls_steps=((100, 2.0), (300, 2.0), (700, 2.0)),
        # 10 users a second up to 100 (10 s, left out), then 30 s measured.
        upstream_steps=((100, 40.0),),
        locust_timeout_s=5,
        upstream_ramp_s=10,
        upstream_spawn_rate=10,
        upstream_timeout_s=60,
        upstream_repeats=2,
        # 5 s for users to arrive (and their first, randomly offset, waits), then 30 s measured.
        polls_article_steps=tuple((users, 35.0) for users in range(100, 701, 100)),
        polls_article_ramp_s=5,
        polls_article_timeout_s=60,
        polls_article_repeats=1,
        calibration_duration_s=2.0,
    ),
    "full": BenchmarkSettings(
        repeats=5,
        max_repeats=8,
        warmup_s=2.0,
        duration_s=10.0,
        window_requests_per_client=20,
        window_probe_s=2.0,
        max_window_s=60,
        clients=(1, 200, 500),
        other_endpoint_clients=(1, 200, 500),
        other_protocol_clients=(1, 200, 500),
        other_protocol_endpoints=H2LOAD_ENDPOINTS,
        fixed_rate_fractions=(0.25, 0.5, 0.75, 0.9),
        fixed_rate_warmup_s=5,
        fixed_rate_probe_s=10,
        fixed_rate_duration_s=30,
        fixed_rate_drain_s=30,
        fixed_rate_connections=50,
        idle_bound=5000,
        idle_open_deadline_s=60,
        idle_stall_s=5,
        idle_hold_s=5,
        idle_repeats=3,
        polls_steps=tuple((users, 10.0) for users in (100, 200, 300, 400, 500, 600, 700)),
        upstream_steps=((100, 70.0),),
        locust_timeout_s=5,
        upstream_ramp_s=10,
        upstream_spawn_rate=10,
        upstream_timeout_s=60,
        upstream_repeats=3,
        polls_article_steps=tuple((users, 65.0) for users in range(100, 701, 100)),
        polls_article_ramp_s=5,
        polls_article_timeout_s=60,
        polls_article_repeats=2,
        calibration_duration_s=5.0,
        interleaved_clients=(1, 200, 500),
        interleaved_rounds=5,
        interleaved_max_rounds=8,
        polls_unpooled_servers=("*",),
        upstream_shared_client_servers=("*",),
    ),
}
