"""The benchmark scenarios of one server configuration, each turning measurements into figures.

Every scenario starts the servers it needs through the ``Launcher`` (pinned to the server CPU by
its prefix) and measures from this thread (pinned to the load CPU), so load tools and samplers
never share a core with the server. A server that does not start, or dies during a run, makes
the figures it was serving failed, with the reason and its log tail; the next scenario starts a
fresh server.
"""

from __future__ import annotations

import math
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from harness.benchmarks.figures import failed_figure, figure_record, measure_in_rounds
from harness.benchmarks.h2load import (
    HUNG,
    NOTHING_ANSWERED,
    TOO_SHORT,
    H2loadRequest,
    run_h2load,
)
from harness.benchmarks.idle import hold_connections
from harness.benchmarks.locust import LocustRequest, started_locust
from harness.benchmarks.measurement import Measurement
from harness.benchmarks.nginx import NginxUnavailable, running_nginx
from harness.benchmarks.pinning import Pinning
from harness.benchmarks.resources import MemorySampler, tree_memory
from harness.benchmarks.settings import H2LOAD_ENDPOINTS, PROTOCOLS, BenchmarkSettings
from harness.definitions import VARIANT_PREFIX, ServerDefinition
from harness.launcher import Instance, Launcher, base_url
from harness.network import free_port
from harness.process import StartError, log_tail
from harness.progress import ServerProgress
from harness.upstream import UpstreamService

LOCUSTFILES = Path(__file__).parent / "locustfiles"
SETTLE_S = 0.5  # after "ready", before reading idle memory: imports finish, workers settle
# Past its expected end, an h2load run is hung and killed (one that announced the end of its
# main duration is killed sooner: see h2load.STOPPING_GRACE_S).
HANG_MARGIN_S = 10
FIXED_RATE_MAX_CLIENTS = 50
FIXED_RATE_MIN_PER_CLIENT = 5  # requests/s: fewer would leave too few requests per client
# A run too short for its answers' latency is measured again this many times longer, in turn.
LONGER_RUN_FACTORS = (2, 4)
RETRIED_LONGER = (TOO_SHORT, NOTHING_ANSWERED, HUNG)  # the failures a longer run may cure
DRAIN_TIMEOUT_S = 20
SYNC_MIDDLEWARE_ENV = {"SYNC_MIDDLEWARE": "1"}  # sampleproject/settings.py adds the middleware
# The slow-upstream page each interface is built for: sync views call the upstream one call
# after the other; the async view awaits the three calls at once.
UPSTREAM_VIEW = {"wsgi": "upstream_sequential", "asgi": "upstream_async"}


class ServerGone(Exception):
    """The server could not be started (or died) for a group of measurements."""


@dataclass
class ServerBench:
    """Everything the scenarios of one server share, and the figures they produced."""

    definition: ServerDefinition
    launcher: Launcher
    settings: BenchmarkSettings
    pinning: Pinning
    endpoints: dict[str, str]
    scratch: Path
    progress: ServerProgress
    upstream: UpstreamService | None = None
    scenarios: frozenset[str] = frozenset()
    interrupted: threading.Event = field(default_factory=threading.Event)
    figures: list[dict[str, Any]] = field(default_factory=list)
    launches: int = 0
    # h2load figures (see figure_key) whose run was too short once, and the duration that
    # their later repeats start with, instead of failing the short runs again.
    run_durations: dict[tuple[Any, ...], float] = field(default_factory=dict)

    def add(self, record: dict[str, Any]) -> None:
        self.figures.append(record)
        if record["status"] == "ok":
            shown = {k: v for k, v in record["metrics"].items() if not k.startswith("step")}
            text = ", ".join(f"{k} {_short(v)}" for k, v in list(shown.items())[:4])
        else:
            text = f"FAILED: {record['failure']}"
        self.progress.note(f"{record['scenario']} / {record['figure']}: {text}"[:300])

    def common_params(self) -> dict[str, Any]:
        return {**self.pinning.as_record(), "workers": 1}

    @contextmanager
    def server(
        self, kind: str = "http", env: dict[str, str] | None = None, port: int | None = None
    ) -> Iterator[Instance]:
        """A fresh server; ServerGone (with the reason and log tail) if it does not start."""
        self.launches += 1
        try:
            with self.launcher.launch(kind, env=env, port=port) as instance:
                yield instance
        except StartError as error:
            raise ServerGone(
                f"the server did not start: {error.reason}\n{error.log_tail}"
            ) from error


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def checked(instance: Instance, measurement: Measurement) -> Measurement:
    """A measurement during which the server exited is failed, whatever the tool saw."""
    code = instance.process.exit_code()
    if code is None:
        return measurement
    return Measurement(
        failure=f"the server exited (code {code}) during the run",
        details={**measurement.details, "server_log_tail": log_tail(instance.log_path)},
    )


def _failures(keys: Sequence[Any], reason: str) -> dict[Any, Measurement]:
    return {key: Measurement(failure=reason[:2000]) for key in keys}


# ---- h2load: requests/s and latency over protocols and client counts -------------------------


def _h2load(
    bench: ServerBench,
    instance: Instance,
    base_url: str,
    endpoint: str,
    clients: int,
    protocol: str,
    rps_per_client: float | None = None,
    duration_s: float | None = None,
) -> Measurement:
    """One h2load run, after the server has drained the previous one."""
    url = base_url + bench.endpoints[endpoint]
    duration_s = duration_s or bench.settings.duration_s
    warmup_s = bench.settings.warmup_s
    verify = bench.launcher.tls.client_context()  # the run's own CA signed every cert here
    wait_until_answering(url, verify)
    requests = None
    if protocol == "http/1.1" and closes_connections(url, verify):
        # h2load hangs at the end of a timed run against such a server: measure by count,
        # sized from a short untimed warm-up run (one request per client, at least 100).
        warmup = H2loadRequest(url, clients, protocol, warmup_s, 0, requests=max(clients, 100))
        probe = run_h2load(warmup, bench.scratch, timeout_s=warmup_s + HANG_MARGIN_S)
        if not probe.ok:
            return checked(instance, probe)
        rate = rps_per_client * clients if rps_per_client else probe.metrics["requests_per_s"]
        requests = max(clients, int((rate or 0) * duration_s))
    request = H2loadRequest(
        url=url,
        clients=clients,
        protocol=protocol,
        duration_s=duration_s,
        warmup_s=warmup_s,
        rps_per_client=rps_per_client,
        requests=requests,
    )

    def run(request: H2loadRequest) -> Measurement:
        timeout_s = request.duration_s + warmup_s + HANG_MARGIN_S
        return run_h2load(request, bench.scratch, timeout_s=timeout_s)

    if requests is None:
        measured = _measured_long_enough(bench, instance, base_url, request, run)
    else:
        measured = run(request)
        measured.details.setdefault("notes", []).append(
            "the server closes the connection after every response, so this run sent a fixed "
            f"number of requests ({requests}, about {duration_s:g} s at the warm-up's rate) "
            "instead of running for a fixed time"
        )
    return checked(instance, measured)


def _measured_long_enough(
    bench: ServerBench,
    instance: Instance,
    base_url: str,
    request: H2loadRequest,
    run: Callable[[H2loadRequest], Measurement],
) -> Measurement:
    """A timed run, measured again longer when it was too short for its answers' latency.

    Answers (or connections) as slow as the run itself, or h2load stuck at the end of a run
    that ended mid-handshake: the run is measured again, twice and then four times as long.
    The duration that worked is remembered for the figure's later repeats, so they do not fail
    the short runs again. A server that really drops its connections fails the longest run the
    same way (and that failure names its duration).
    """
    base_s = request.duration_s
    path = request.url.removeprefix(base_url)  # the port changes with every fresh server
    figure = figure_key(
        instance, base_url, path, request.clients, request.protocol, request.rps_per_client, base_s
    )
    duration_s = bench.run_durations.get(figure, base_s)
    measured = run(replace(request, duration_s=duration_s))
    first_failure = measured.failure if duration_s == base_s else None
    for factor in LONGER_RUN_FACTORS:
        failure = measured.failure or ""
        if not failure.startswith(RETRIED_LONGER) or base_s * factor <= duration_s:
            continue
        duration_s = base_s * factor
        bench.run_durations[figure] = duration_s
        measured = run(replace(request, duration_s=duration_s))
    if duration_s != base_s:
        why = (
            f"the shorter run failed ({first_failure})"
            if first_failure
            else "as an earlier repeat of this figure had to be"
        )
        measured.details.setdefault("notes", []).append(
            f"measured over {duration_s:g} s instead of {base_s:g} s: {why}"[:600]
        )
    return measured


def figure_key(instance: Instance, base_url: str, *run: Any) -> tuple[Any, ...]:
    """What makes one h2load figure, the same across the fresh servers of its repeats: the
    server variant (kind, environment), whether nginx is in front, and the run's settings."""
    proxied = base_url != instance.base_url
    return (instance.kind, tuple(sorted(instance.extra_env.items())), proxied, *run)


def closes_connections(url: str, verify: ssl.SSLContext) -> bool:
    """Whether the server answers HTTP/1.1 with ``Connection: close`` (no keep-alive)."""
    try:
        with httpx.Client(verify=verify, timeout=10) as client:
            return client.get(url).headers.get("connection", "").lower() == "close"
    except httpx.HTTPError:
        return False


def wait_until_answering(
    url: str, verify: ssl.SSLContext, timeout_s: float = DRAIN_TIMEOUT_S
) -> None:
    """Let the server finish the requests a previous run left queued (500 clients' worth can
    take seconds), so one figure's backlog does not land in the next figure."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(verify=verify, timeout=timeout_s) as client:
        while time.monotonic() < deadline:
            try:
                client.get(url)
                return
            except httpx.HTTPError:
                time.sleep(0.2)


def _h2load_params(bench: ServerBench, protocol_id: str, endpoint: str, clients: int) -> dict:
    return {
        "tool": "h2load",
        "protocol": protocol_id,
        "endpoint": endpoint,
        "path": bench.endpoints[endpoint],
        "clients": clients,
        "threads": 1,
        "duration_s": bench.settings.duration_s,
        "warmup_s": bench.settings.warmup_s,
        **bench.common_params(),
    }


def h2load_plain(bench: ServerBench) -> None:
    """The full client sweep over HTTP/1.1, each round on a freshly started server, with the
    server's memory read at idle and sampled during the round (the ``resources`` scenario)."""
    native = native_json(bench.definition)
    keys = [(native, c) for c in bench.settings.clients] + [
        (e, c)
        for e in H2LOAD_ENDPOINTS
        if e != native
        for c in bench.settings.other_endpoint_clients
    ]
    resources: list[Measurement] = []

    def run_round(pending: Sequence[tuple[str, int]]) -> dict[tuple[str, int], Measurement]:
        try:
            with bench.server("http") as instance:
                time.sleep(SETTLE_S)
                pid = instance.process.pid
                idle = tree_memory(pid)
                with MemorySampler(pid) as sampler:
                    results = {
                        key: _h2load(bench, instance, instance.base_url, *key, "http/1.1")
                        for key in pending
                    }
                if len(pending) == len(keys):  # only full rounds describe the same load
                    resources.append(_resources(instance, idle, sampler))
                return results
        except ServerGone as gone:
            resources.append(Measurement(failure=str(gone)))
            return _failures(pending, str(gone))

    repeats = measure_in_rounds(keys, run_round, bench.settings)
    if "h2load" in bench.scenarios:
        for (endpoint, clients), measured in repeats.items():
            params = _h2load_params(bench, "http/1.1", endpoint, clients)
            bench.add(figure_record("h2load", f"http/1.1 {endpoint} c={clients}", params, measured))
    if "resources" in bench.scenarios:
        params = {
            "load": "the h2load http/1.1 sweep (every endpoint and client count, one round)",
            "sampling_interval_s": 0.25,
            "memory": "sum over the server's process tree; PSS counts shared pages once",
            **bench.common_params(),
        }
        bench.add(figure_record("resources", "start and memory", params, resources))


def _resources(instance: Instance, idle: dict[str, int], sampler: MemorySampler) -> Measurement:
    peak = sampler.peak or {}
    return Measurement(
        metrics={
            "ready_s": instance.ready_after_s,
            "idle_memory_pss_bytes": idle["memory_pss_bytes"],
            "idle_memory_rss_bytes": idle["memory_rss_bytes"],
            "peak_memory_pss_bytes": peak.get("memory_pss_bytes"),
            "peak_memory_rss_bytes": peak.get("memory_rss_bytes"),
            "processes": idle["processes"],
        },
        details={"memory_samples": sampler.samples},
    )


@contextmanager
def _protocol_target(bench: ServerBench, protocol_id: str) -> Iterator[tuple[Instance, str]]:
    """The server in the variant a protocol needs, and the base URL h2load requests."""
    kind = PROTOCOLS[protocol_id][0]
    with ExitStack() as stack:
        instance = stack.enter_context(bench.server(kind))
        if not protocol_id.startswith("nginx"):
            yield instance, instance.base_url
            return
        port = int(instance.base_url.rsplit(":", 1)[1])
        try:
            proxy = stack.enter_context(
                running_nginx(
                    bench.scratch / f"nginx-{bench.launches}",
                    upstream_port=port,
                    tls=bench.launcher.tls,
                    http2=True,
                    prefix=bench.pinning.server_prefix(),
                )
            )
        except NginxUnavailable as error:
            raise ServerGone(f"nginx could not be started: {error}") from error
        yield instance, proxy.base_url


def applicable_protocols(definition: ServerDefinition, launcher: Launcher) -> list[str]:
    """The protocols beyond plain HTTP/1.1 this configuration is measured over."""
    chosen = []
    for protocol_id, (kind, _) in PROTOCOLS.items():
        if protocol_id == "http/1.1":
            continue
        if protocol_id.startswith("nginx"):
            if definition.mode == "production":  # a development server is not proxied
                chosen.append(protocol_id)
        elif launcher.supports(kind):
            chosen.append(protocol_id)
    return chosen


def h2load_other_protocols(bench: ServerBench) -> None:
    keys = [
        (e, c)
        for e in bench.settings.other_protocol_endpoints
        for c in bench.settings.other_protocol_clients
    ]
    for protocol_id in applicable_protocols(bench.definition, bench.launcher):
        protocol = PROTOCOLS[protocol_id][1]
        try:
            with _protocol_target(bench, protocol_id) as (instance, base_url):

                def run_round(pending, instance=instance, base_url=base_url, protocol=protocol):
                    return {k: _h2load(bench, instance, base_url, *k, protocol) for k in pending}

                repeats = measure_in_rounds(keys, run_round, bench.settings)
        except ServerGone as gone:
            repeats = {key: [Measurement(failure=str(gone)[:2000])] for key in keys}
        for (endpoint, clients), measured in repeats.items():
            params = _h2load_params(bench, protocol_id, endpoint, clients)
            if protocol_id.startswith("nginx"):
                params["proxy"] = "nginx: TLS and HTTP/2 to the client, HTTP/1.1 to the server"
            bench.add(
                figure_record("h2load", f"{protocol_id} {endpoint} c={clients}", params, measured)
            )


# ---- fixed-rate latency and the sync-middleware penalty -------------------------------------


def native_json(definition: ServerDefinition) -> str:
    """The JSON view written for the server's interface (sync for WSGI, async for ASGI)."""
    return "json_async" if definition.interface == "asgi" else "json_sync"


def _measured_maximum(bench: ServerBench, endpoint: str) -> float | None:
    rates = [
        figure["metrics"].get("requests_per_s")
        for figure in bench.figures
        if figure["scenario"] == "h2load"
        and figure["status"] == "ok"
        and figure["params"]["protocol"] == "http/1.1"
        and figure["params"]["endpoint"] == endpoint
    ]
    rates = [rate for rate in rates if rate]
    return max(rates) if rates else None


def fixed_rate_latency(bench: ServerBench, instance: Instance) -> None:
    endpoint = native_json(bench.definition)
    settings = bench.settings
    params: dict[str, Any] = {
        "tool": "h2load",
        "protocol": "http/1.1",
        "endpoint": endpoint,
        "path": bench.endpoints[endpoint],
        "fraction_of_maximum": settings.fixed_rate_fraction,
        "duration_s": settings.fixed_rate_duration_s,
        "warmup_s": settings.warmup_s,
        **bench.common_params(),
    }
    maximum = _measured_maximum(bench, endpoint)
    if maximum is None:  # h2load was not selected (or failed): measure the maximum here
        probe = _h2load(bench, instance, instance.base_url, endpoint, 200, "http/1.1")
        maximum = probe.metrics.get("requests_per_s") if probe.ok else None
        params["maximum_measured_by"] = "this scenario (h2load, 200 clients, one run)"
    else:
        params["maximum_measured_by"] = "the h2load http/1.1 figures of this capture"
    if not maximum:
        reason = "no maximum rate was measured, so there is no fixed rate to hold"
        bench.add(failed_figure("fixed-rate-latency", endpoint, params, reason))
        return
    wanted = maximum * settings.fixed_rate_fraction
    # Many clients at a low rate each: a client waits for its answer before the next request,
    # so few fast clients would hide queueing delay (coordinated omission). h2load paces each
    # client at a whole number of requests per second, so the target is rounded to that.
    per_client = max(FIXED_RATE_MIN_PER_CLIENT, math.ceil(wanted / FIXED_RATE_MAX_CLIENTS))
    clients = max(1, round(wanted / per_client))
    target = clients * per_client
    params.update(maximum_requests_per_s=maximum, target_requests_per_s=target, clients=clients)

    def run_round(pending: Sequence[str]) -> dict[str, Measurement]:
        return {
            endpoint: _h2load(
                bench,
                instance,
                instance.base_url,
                endpoint,
                clients,
                "http/1.1",
                rps_per_client=per_client,
                duration_s=settings.fixed_rate_duration_s,
            )
        }

    repeats = measure_in_rounds([endpoint], run_round, settings, metric="latency_p50_ms")
    bench.add(figure_record("fixed-rate-latency", endpoint, params, repeats[endpoint]))


def _pair(without: Measurement, with_: Measurement) -> Measurement:
    if not without.ok or not with_.ok:
        return Measurement(failure=without.failure or with_.failure)
    metrics: dict[str, float | int | None] = {}
    ratios = {
        "latency_p50_ms": "latency_p50_ratio",
        "latency_p99_ms": "latency_p99_ratio",
        "requests_per_s": "throughput_ratio",
    }
    for name, ratio in ratios.items():
        a, b = without.metrics.get(name), with_.metrics.get(name)
        metrics[f"without_{name}"], metrics[f"with_{name}"] = a, b
        metrics[ratio] = b / a if a and b else None
    return Measurement(metrics=metrics)


def sync_middleware_cost(bench: ServerBench, base: Instance) -> None:
    endpoint = "json_async"
    params = {
        "tool": "h2load",
        "protocol": "http/1.1",
        "endpoint": endpoint,
        "path": bench.endpoints[endpoint],
        "clients": 1,
        "variant": "SYNC_MIDDLEWARE=1 adds one sync-only middleware (demo/middleware.py)",
        "ratio": "with / without, per repeat (both servers up, measured back to back)",
        "duration_s": bench.settings.duration_s,
        "warmup_s": bench.settings.warmup_s,
        **bench.common_params(),
    }
    try:
        with bench.server("http", env=SYNC_MIDDLEWARE_ENV) as variant:
            order = [0]

            def run_round(pending: Sequence[str]) -> dict[str, Measurement]:
                first, second = (base, variant) if order[0] % 2 == 0 else (variant, base)
                order[0] += 1  # alternate which goes first, so drift does not favour one
                measured = {
                    id(instance): _h2load(
                        bench, instance, instance.base_url, endpoint, 1, "http/1.1"
                    )
                    for instance in (first, second)
                }
                return {endpoint: _pair(measured[id(base)], measured[id(variant)])}

            repeats = measure_in_rounds(
                [endpoint], run_round, bench.settings, metric="latency_p50_ratio"
            )[endpoint]
    except ServerGone as gone:
        repeats = [Measurement(failure=f"with SYNC_MIDDLEWARE=1, {gone}")]
    bench.add(figure_record("sync-middleware-cost", endpoint, params, repeats))


def rate_scenarios(bench: ServerBench) -> None:
    """fixed-rate-latency and sync-middleware-cost share one freshly started server."""
    wanted = [s for s in ("fixed-rate-latency", "sync-middleware-cost") if s in bench.scenarios]
    if not wanted:
        return
    try:
        with bench.server("http") as instance:
            if "fixed-rate-latency" in wanted:
                fixed_rate_latency(bench, instance)
            if "sync-middleware-cost" in wanted:
                sync_middleware_cost(bench, instance)
    except ServerGone as gone:
        for scenario in wanted:
            bench.add(failed_figure(scenario, "server", bench.common_params(), str(gone)))


# ---- idle connections -----------------------------------------------------------------------


def idle_connections(bench: ServerBench) -> None:
    kinds = ["sse"] + (["websocket"] if bench.definition.interface == "asgi" else [])
    settings = bench.settings
    for kind in kinds:
        path = bench.endpoints["sse" if kind == "sse" else "websocket"]
        params = {
            "kind": kind,
            "path": path,
            "bound": settings.idle_bound,
            "open_deadline_s": settings.idle_open_deadline_s,
            "hold_s": settings.idle_hold_s,
            "fresh_server_per_repeat": True,
            **bench.common_params(),
        }

        def run_round(pending: Sequence[str], kind: str = kind, path: str = path):
            return {kind: _hold_once(bench, kind, path)}

        repeats = measure_in_rounds([kind], run_round, settings, metric="connections_still_open")[
            kind
        ]
        bench.add(figure_record("idle-connections", kind, params, repeats))


def _hold_once(bench: ServerBench, kind: str, path: str) -> Measurement:
    settings = bench.settings
    try:
        with bench.server("http") as instance:
            time.sleep(SETTLE_S)
            pid = instance.process.pid
            idle = tree_memory(pid)
            url = instance.base_url + path
            if kind == "websocket":
                url = "ws" + url.removeprefix("http")
            result, held = hold_connections(
                kind,
                url,
                settings.idle_bound,
                settings.idle_open_deadline_s,
                settings.idle_hold_s,
                while_held=lambda: tree_memory(pid),
            )
            metrics: dict[str, Any] = dict(result.as_metrics())
            metrics["idle_memory_pss_bytes"] = idle["memory_pss_bytes"]
            metrics["held_memory_pss_bytes"] = held.get("memory_pss_bytes")
            grown = (held.get("memory_pss_bytes") or 0) - idle["memory_pss_bytes"]
            metrics["memory_per_connection_bytes"] = (
                max(grown, 0) / result.still_open if result.still_open and held else None
            )
            return checked(
                instance, Measurement(metrics=metrics, details={"errors": result.errors})
            )
    except ServerGone as gone:
        return Measurement(failure=str(gone)[:2000])


# ---- Locust -----------------------------------------------------------------------------------


def _locust_scenario(
    bench: ServerBench,
    scenario: str,
    figure: str,
    locustfile: str,
    steps: Sequence[tuple[int, float]],
    params: dict[str, Any],
    env: dict[str, str] | None = None,
    kind: str = "http",
) -> None:
    """Each repeat on a freshly started server: an overloaded run leaves a queue that takes
    longer to drain (100 requests of a second each, on 8 threads) than a restart."""
    params = {
        "tool": "locust",
        "locustfile": f"harness/benchmarks/locustfiles/{locustfile}",
        "steps": [{"users": users, "seconds": seconds} for users, seconds in steps],
        "request_timeout_s": bench.settings.locust_timeout_s,
        "processes": 1,
        **params,
        **bench.common_params(),
    }

    def run_round(pending: Sequence[str]) -> dict[str, Measurement]:
        # Locust starts first and waits for its cue, so its imports overlap the server's start.
        port = free_port()
        request = LocustRequest(
            locustfile=LOCUSTFILES / locustfile,
            host=base_url(kind, port),
            steps=tuple(steps),
            timeout_s=bench.settings.locust_timeout_s,
            env=env or {},
        )
        try:
            with (
                started_locust(request, bench.scratch) as locust,
                bench.server(kind, port=port) as instance,
            ):
                return {figure: checked(instance, locust.measure())}
        except ServerGone as gone:
            return {figure: Measurement(failure=str(gone)[:2000])}

    repeats = measure_in_rounds([figure], run_round, bench.settings)[figure]
    bench.add(figure_record(scenario, figure, params, repeats))


def locust_polls(bench: ServerBench) -> None:
    _locust_scenario(
        bench,
        "locust-polls",
        "polls vote, SQLite",
        "polls.py",
        bench.settings.polls_steps,
        {"database": "SQLite", "wait_s": "between 1 and 2", "task": "GET vote form, POST vote"},
    )


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


# The order scenarios run in for one server; each entry names the scenarios it produces.
SERVER_SCENARIOS: Sequence[tuple[frozenset[str], Callable[[ServerBench], None]]] = (
    (frozenset({"h2load", "resources"}), h2load_plain),
    (frozenset({"h2load"}), h2load_other_protocols),
    (frozenset({"fixed-rate-latency", "sync-middleware-cost"}), rate_scenarios),
    (frozenset({"idle-connections"}), idle_connections),
    (frozenset({"locust-polls"}), locust_polls),
    (frozenset({"locust-upstream"}), locust_upstream),
)
