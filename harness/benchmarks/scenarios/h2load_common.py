"""How the h2load scenarios measure one figure on a server: drained before every run, over a
window chosen by the profile's rule (``window_s``), by count when the server closes every
connection, and again longer when the run was too short for its answers."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import httpx

from harness.benchmarks.h2load.command import H2loadRequest
from harness.benchmarks.h2load.run import run_h2load
from harness.benchmarks.h2load.validity import HUNG, NOTHING_ANSWERED, TOO_SHORT
from harness.benchmarks.measurement import Measurement
from harness.benchmarks.scenarios.bench import ServerBench, checked
from harness.benchmarks.settings import BenchmarkSettings
from harness.definitions import ServerDefinition
from harness.launcher import Instance

# Past its expected end, an h2load run is hung and killed (one that announced the end of its
# main duration is killed sooner: see h2load.run.STOPPING_GRACE_S).
HANG_MARGIN_S = 10
# A run too short for its answers' latency is measured again this many times longer, in turn.
LONGER_RUN_FACTORS = (2, 4)
RETRIED_LONGER = (TOO_SHORT, NOTHING_ANSWERED, HUNG)  # the failures a longer run may cure
DRAIN_TIMEOUT_S = 20


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
    """One h2load run, after the server has drained the previous one. Its window is
    ``duration_s`` when given, else the profile's rule's (``window_s``)."""
    url = base_url + bench.endpoints[endpoint]
    fixed_window = duration_s is not None
    duration_s = duration_s or bench.settings.duration_s
    warmup_s = bench.settings.warmup_s
    verify = bench.launcher.tls.client_context()  # the run's own CA signed every cert here
    if instance.process.exit_code() is not None:
        # Died in an earlier figure of this round: nothing to drain or wait for.
        return checked(instance, Measurement(failure="the server had exited"))
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
        if not fixed_window:
            duration_s = window_s(bench.settings, clients, rate)
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
        # Every run, the window probe's and a run measured again included, starts on a drained
        # server: one started while the server still answered the abandoned requests of the
        # run before it inherited a tail (uvicorn at 500 clients, 15 s runs right after a 5 s
        # one: p99 9.8 to 13.8 s in 8 of 8; after one answered request, 1.9 and 2.2 s).
        wait_until_answering(url, verify)
        timeout_s = request.duration_s + warmup_s + HANG_MARGIN_S
        return run_h2load(request, bench.scratch, timeout_s=timeout_s)

    if requests is None:
        measured = _measured_long_enough(bench, instance, base_url, request, run, fixed_window)
    else:
        measured = run(request)
        measured.details.setdefault("notes", []).append(
            "the server closes the connection after every response, so this run sent a fixed "
            f"number of requests ({requests}, about {duration_s:g} s at the warm-up's rate) "
            "instead of running for a fixed time"
        )
        measured.details["window_s"] = duration_s
    return checked(instance, measured)


def window_s(settings: BenchmarkSettings, clients: int, answered_per_s: float | None) -> float:
    """The profile's window for ``clients`` at a probed rate: every client completes
    ``window_requests_per_client`` requests, within [duration_s, max_window_s]."""
    wanted = settings.window_requests_per_client
    if not wanted or not answered_per_s:
        return settings.duration_s
    needed = wanted * clients / answered_per_s
    return round(min(settings.max_window_s, max(settings.duration_s, needed)), 1)


def per_client_shortfall(
    settings: BenchmarkSettings, clients: int, measured: Measurement
) -> float | None:
    """The requests per client a run completed, when fewer than the rule asks; else None.

    The probe's rate can be higher than the window's (a slow ASGI server at 200 clients
    answered 6 to 9 per client in windows chosen for 10), and a server that answers its clients
    in turn finishes whole rounds: with few requests per client the rate moves in steps of
    1/n of it."""
    total = measured.metrics.get("requests_total") if measured.ok else None
    wanted = settings.window_requests_per_client
    if not wanted or not isinstance(total, int | float) or clients < 1:
        return None
    per_client = total / clients
    return per_client if per_client < wanted else None


def lengthened_window(settings: BenchmarkSettings, window_s: float, per_client: float) -> float:
    """The window in which a run that completed ``per_client`` requests per client over
    ``window_s`` would complete the rule's number, with a tenth to spare, at most the
    profile's longest window."""
    wanted = settings.window_requests_per_client
    scaled = window_s * wanted / max(per_client, 1.0) * 1.1
    return round(min(settings.max_window_s, scaled), 1)


def with_enough_per_client(
    settings: BenchmarkSettings,
    clients: int,
    window_s: float,
    measured: Measurement,
    run: Callable[[float], Measurement],
) -> tuple[float, Measurement]:
    """``measured`` over ``window_s``, or, when its clients completed fewer requests each than
    the rule asks and the window can grow, a run over the lengthened window (with a note).
    Returns the window used and its measurement; the caller keeps the window for later repeats."""
    shortfall = per_client_shortfall(settings, clients, measured)
    if shortfall is None or window_s >= settings.max_window_s:
        return window_s, measured
    longer = lengthened_window(settings, window_s, shortfall)
    measured = run(longer)
    measured.details.setdefault("notes", []).append(
        f"window lengthened to {longer:g} s: its clients completed {shortfall:.1f} requests "
        f"each in the chosen window, fewer than the rule's {settings.window_requests_per_client:g}"
    )
    return longer, measured


def _probed_window(
    bench: ServerBench, request: H2loadRequest, run: Callable[[H2loadRequest], Measurement]
) -> tuple[float, str | None]:
    """The rule's window for this figure, from a short probe run (which also warms the
    server); the probe is not a figure. Returns the window and how it was chosen."""
    settings = bench.settings
    if not settings.window_requests_per_client:
        return settings.duration_s, None
    probe = run(replace(request, duration_s=settings.window_probe_s))
    rate = probe.metrics.get("answered_per_s") if probe.ok else None
    chosen = window_s(settings, request.clients, rate)
    if rate is None:
        return chosen, f"window {chosen:g} s: the {settings.window_probe_s:g} s probe failed"
    return chosen, (
        f"window {chosen:g} s: {settings.window_requests_per_client:g} requests per client "
        f"at the {settings.window_probe_s:g} s probe's {rate:,.0f} answered/s, within "
        f"{settings.duration_s:g}-{settings.max_window_s:g} s"
    )


def _measured_long_enough(
    bench: ServerBench,
    instance: Instance,
    base_url: str,
    request: H2loadRequest,
    run: Callable[[H2loadRequest], Measurement],
    fixed_window: bool = False,
) -> Measurement:
    """A timed run over the rule's window (probed at the figure's first repeat, then kept),
    measured again longer when it was too short for its answers' latency.

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
    chosen_by = None
    if figure not in bench.rule_windows and not fixed_window:
        bench.rule_windows[figure], chosen_by = _probed_window(bench, request, run)
    base_s = bench.rule_windows.get(figure, base_s)
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
    if not fixed_window and duration_s == base_s:
        # Too few requests per client for the rule: the figure's window is lengthened, for
        # this repeat and the later ones.
        base_s, measured = with_enough_per_client(
            bench.settings,
            request.clients,
            base_s,
            measured,
            lambda window: run(replace(request, duration_s=window)),
        )
        duration_s = bench.rule_windows[figure] = base_s
    if duration_s != base_s:
        why = (
            f"the shorter run failed ({first_failure})"
            if first_failure
            else "as an earlier repeat of this figure had to be"
        )
        measured.details.setdefault("notes", []).append(
            f"measured over {duration_s:g} s instead of {base_s:g} s: {why}"[:600]
        )
    if chosen_by:
        measured.details.setdefault("notes", []).append(chosen_by)
    measured.details["window_s"] = duration_s
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
    take seconds), so one run's backlog does not land in the next run: one request answered."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(verify=verify, timeout=timeout_s) as client:
        while time.monotonic() < deadline:
            try:
                client.get(url)
                return
            except httpx.HTTPError:
                time.sleep(0.2)


def _h2load_params(
    bench: ServerBench,
    protocol_id: str,
    endpoint: str,
    clients: int,
    measured: Sequence[Measurement] = (),
) -> dict:
    """A figure's parameters; ``duration_s`` is the shortest window its repeats ran (a latency
    is cut off by the window it was measured in)."""
    windows = [m.details["window_s"] for m in measured if m.details.get("window_s")]
    return {
        "tool": "h2load",
        "protocol": protocol_id,
        "endpoint": endpoint,
        "path": bench.endpoints[endpoint],
        "clients": clients,
        "threads": 1,
        "duration_s": min(windows) if windows else bench.settings.duration_s,
        "warmup_s": bench.settings.warmup_s,
        **bench.common_params(),
    }


def native_json(definition: ServerDefinition) -> str:
    """The JSON view written for the server's interface (sync for WSGI, async for ASGI)."""
    return "json_async" if definition.interface == "asgi" else "json_sync"
