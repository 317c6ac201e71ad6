"""How the Locust scenarios measure one figure: Locust started first, then a fresh server,
for every repeat."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import Any

from evidence.vocabulary import ANSWERS_COUNTED_ON_ARRIVAL
from harness.benchmarks.cpu import CPU_ACCOUNTING, CpuSampler
from harness.benchmarks.figures import figure_record, measure_in_rounds
from harness.benchmarks.locust.command import LOCUSTFILES, LocustRequest
from harness.benchmarks.locust.run import started_locust
from harness.benchmarks.measurement import Measurement
from harness.benchmarks.nginx import NginxInstance, NginxUnavailable, running_nginx
from harness.benchmarks.scenarios.bench import MachineFault, ServerBench, ServerGone, checked
from harness.benchmarks.server_log import server_errors
from harness.launcher import Instance, base_url
from harness.network import free_port
from harness.process import StartError


def _locust_scenario(
    bench: ServerBench,
    scenario: str,
    figure: str,
    locustfile: str,
    steps: Sequence[tuple[int, float]],
    params: dict[str, Any],
    env: dict[str, str] | None = None,
    kind: str = "http",
    *,
    ramp_s: float = 0.0,
    spawn_rate: float | None = None,
    timeout_s: float | None = None,
    repeats: int | None = None,
    server_env: dict[str, str] | None = None,
    behind_nginx: bool = False,
    extra_pids: dict[str, int] | None = None,
    workers: int | None = None,
) -> None:
    """Each repeat on a freshly started server: an overloaded run leaves a queue that takes
    longer to drain (100 requests of a second each, on 8 threads) than a restart. ``workers``
    (default: the production count) is an article's own, where a reproduction follows it."""
    timeout_s = timeout_s or bench.settings.locust_timeout_s
    params = {
        "tool": "locust",
        "locustfile": f"harness/benchmarks/locustfiles/{locustfile}",
        "steps": [{"users": users, "seconds": seconds} for users, seconds in steps],
        # The first ramp_s of every step is left out of its figures (users arriving).
        "ramp_s": ramp_s,
        "spawn_rate": spawn_rate,
        "request_timeout_s": timeout_s,
        "processes": bench.settings.locust_processes,
        "cpu_accounting": CPU_ACCOUNTING,
        "answers_counted": ANSWERS_COUNTED_ON_ARRIVAL,
        **params,
        **bench.common_params(workers),
    }

    def request_for(host: str) -> LocustRequest:
        return LocustRequest(
            locustfile=LOCUSTFILES / locustfile,
            host=host,
            steps=tuple(steps),
            timeout_s=timeout_s,
            spawn_rate=spawn_rate,
            ramp_s=ramp_s,
            processes=bench.settings.locust_processes,
            env=env or {},
        )

    def run_round(pending: Sequence[str]) -> dict[str, Measurement]:
        try:
            with ExitStack() as stack:
                pids = dict(extra_pids or {})
                if behind_nginx:
                    instance = stack.enter_context(
                        bench.server(kind, env=server_env, workers=workers)
                    )
                    proxy = stack.enter_context(nginx_in_front(bench, instance))
                    pids["nginx"] = proxy.process.pid
                    locust = stack.enter_context(
                        started_locust(request_for(proxy.base_url), bench.scratch)
                    )
                else:
                    # Locust starts first and waits for its cue, so its imports overlap the
                    # server's start.
                    port = free_port()
                    locust = stack.enter_context(
                        started_locust(request_for(base_url(kind, port)), bench.scratch)
                    )
                    instance = stack.enter_context(
                        bench.server(kind, env=server_env, port=port, workers=workers)
                    )
                pids.update(server=instance.process.pid, locust=locust.process.pid)
                with CpuSampler(pids) as cpu:
                    affinity = cpu.affinities()
                    measurement = locust.measure()
                add_cpu_per_step(measurement, cpu)
                # What the server logged went wrong: the cause behind Locust's 500s.
                log = instance.log_text()[instance.log_offset :]
                measurement.details["server_errors"] = server_errors(log)
                # Where each tree ran, read from its processes: a page says which of them
                # shared the CPU whose busy share it shows.
                measurement.details["cpu_affinity"] = affinity
                params.setdefault("cpu_affinity", affinity)
                return {figure: checked(instance, measurement)}
        except ServerGone as gone:
            return {figure: Measurement(failure=str(gone)[:2000], failed_by=gone.failed_by)}

    settings = bench.settings
    if repeats is not None:
        settings = replace(settings, repeats=repeats, max_repeats=max(repeats, 1))
    measured = measure_in_rounds([figure], run_round, settings, "answered_per_s")[figure]
    bench.add(figure_record(scenario, figure, params, measured))


@contextmanager
def nginx_in_front(bench: ServerBench, instance: Instance) -> Iterator[NginxInstance]:
    """nginx (plain HTTP/1.1, pinned with the server) proxying to ``instance``; ServerGone
    with the reason when it cannot be started."""
    port = int(instance.base_url.rsplit(":", 1)[1])
    with ExitStack() as stack:
        try:
            proxy = stack.enter_context(
                running_nginx(
                    bench.scratch / f"nginx-{bench.launches}",
                    upstream_port=port,
                    tls=None,
                    http2=False,
                    prefix=bench.pinning.server_prefix(),
                )
            )
        except (NginxUnavailable, StartError) as error:
            raise MachineFault(f"nginx could not be started: {error}") from error
        yield proxy


def add_cpu_per_step(measurement: Measurement, cpu: CpuSampler) -> None:
    """Each step's CPU use (server, Locust, and nginx or PostgreSQL where they ran; % of one
    core, reaped children included) over its measured part, each CPU's busy and steal shares
    (``step<users>_cpu<n>_busy_percent``), and the peak of the server's threads and of
    PostgreSQL's client connections (what a server that is not CPU-bound waits on)."""
    started_at = measurement.details.get("started_at")
    if not measurement.ok or started_at is None:
        return
    for record in measurement.details.get("steps", []):
        start = started_at + record["measured_from_s"]
        end = start + record["ran_s"]
        for role in cpu.pids:
            value = cpu.percent(role, start, end)
            record[f"{role}_cpu_percent"] = value
            measurement.metrics[f"step{record['users']}_{role}_cpu_percent"] = value
        shares = cpu.cpu_shares(start, end)
        record["cpus"] = [
            {
                "cpu": number,
                "busy_percent": share.busy_percent,
                "steal_percent": share.steal_percent,
            }
            for number, share in shares.items()
        ]
        for number, share in shares.items():
            prefix = f"step{record['users']}_cpu{number}"
            measurement.metrics[f"{prefix}_busy_percent"] = share.busy_percent
            measurement.metrics[f"{prefix}_steal_percent"] = share.steal_percent
        peaks = {
            "server_threads_peak": cpu.peak_threads("server", start, end),
            "postgres_connections_peak": (
                cpu.peak_connections("postgres", start, end) if "postgres" in cpu.pids else None
            ),
        }
        for name, value in peaks.items():
            if value is not None:
                record[name] = value
                measurement.metrics[f"step{record['users']}_{name}"] = value
