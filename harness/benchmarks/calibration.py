"""The ``calibration`` scenario: how fast the load tools themselves can go on this machine.

Each tool runs, pinned as in every other scenario, against targets that cost the server almost
nothing: nginx answering ``return 200`` (the tool's ceiling), and trivial raw ASGI and WSGI apps
with no Django on Granian, the fastest server here. Any Django figure close to a ceiling
measures the tool, not the server; the site shows every figure's headroom against these.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evidence.vocabulary import ANSWERS_COUNTED_ON_ARRIVAL
from harness.benchmarks.figures import figure_record, measure_in_rounds
from harness.benchmarks.h2load.command import H2loadRequest
from harness.benchmarks.h2load.run import run_h2load
from harness.benchmarks.locust.command import LOCUSTFILES, LocustRequest
from harness.benchmarks.locust.run import run_locust
from harness.benchmarks.measurement import Measurement
from harness.benchmarks.nginx import NginxUnavailable, running_nginx
from harness.benchmarks.pinning import Pinning
from harness.benchmarks.scenarios.bench import ServerGone
from harness.benchmarks.settings import BenchmarkSettings
from harness.environments import Environment
from harness.network import HOST, TLSMaterial, free_port
from harness.process import ServerProcess, StartError
from harness.progress import ServerProgress

RAW_APPS_DIR = Path(__file__).parent / "apps"
CALIBRATION_CLIENTS = 200  # or the largest client count of the profile, if smaller
LOCUST_USERS = 20  # enough to saturate one Locust process with no wait between requests
# nginx over each protocol h2load uses: (figure protocol, TLS?, HTTP/2 listener?, h2load's).
NGINX_PROTOCOLS = (
    ("http/1.1", False, False, "http/1.1"),
    ("h2c", False, True, "h2c"),
    ("http/1.1+tls", True, True, "http/1.1"),
    ("h2+tls", True, True, "h2"),
)


def raw_app_command(
    granian: Environment, interface: str, port: int, flavour: str = ""
) -> list[str]:
    return [
        str(granian.bin_dir / "granian"),
        "--interface",
        interface,
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
        f"raw:{interface}_{flavour + '_' if flavour else ''}app",
    ]


@contextmanager
def raw_app(
    granian: Environment,
    interface: str,
    scratch: Path,
    pinning: Pinning,
    timeout_s: float,
    flavour: str = "",
) -> Iterator[tuple[str, list[str]]]:
    """A raw app on Granian (trivial, or ``flavour="busy"``: the interleaved rounds'
    reference); yields its base URL and the command that runs it."""
    port = free_port()
    argv = raw_app_command(granian, interface, port, flavour)
    process = ServerProcess(
        [*pinning.server_prefix(), *argv],
        RAW_APPS_DIR,
        {"PATH": f"{granian.bin_dir}:/usr/bin:/bin", "PYTHONUNBUFFERED": "1"},
        scratch / f"raw-{interface}.log",
        "SIGTERM",
    )
    base_url = f"http://{HOST}:{port}"
    try:
        process.start()
        process.wait_ready(base_url + "/", timeout_s)
        yield base_url, ["granian", *argv[1:]]
    except StartError as error:
        raise ServerGone(f"the raw {interface} app did not start: {error.reason}") from error
    finally:
        process.stop(10)


def progress_text(record: dict[str, Any]) -> str:
    """What the progress line says of one calibration figure: its answered rate, or its failure.

    Locust figures have no ``requests_per_s`` (it would count failed requests), so the line
    reads ``answered_per_s``, which every calibration figure has.
    """
    if record["status"] != "ok":
        return f"FAILED: {record['failure']}"
    answered = record["metrics"].get("answered_per_s")
    return f"{answered:.0f} answered/s" if answered is not None else "no answered rate recorded"


class Calibration:
    def __init__(
        self,
        settings: BenchmarkSettings,
        pinning: Pinning,
        granian: Environment | None,
        tls: TLSMaterial,
        scratch: Path,
        progress: ServerProgress,
    ) -> None:
        self.settings, self.pinning, self.granian = settings, pinning, granian
        self.tls, self.scratch, self.progress = tls, scratch, progress
        self.clients = min(CALIBRATION_CLIENTS, max(settings.clients))
        self.figures: list[dict[str, Any]] = []

    def params(self, tool: str, target: str, protocol: str, **extra: Any) -> dict[str, Any]:
        return {
            "tool": tool,
            "target": target,
            "protocol": protocol,
            "duration_s": self.settings.calibration_duration_s,
            **extra,
            **self.pinning.as_record(),
        }

    def add(self, figure: str, params: dict[str, Any], repeats: Sequence[Measurement]) -> None:
        record = figure_record("calibration", figure, params, repeats)
        self.figures.append(record)
        self.progress.note(f"calibration / {figure}: {progress_text(record)}"[:300])

    def h2load(self, base_url: str, protocol: str) -> Measurement:
        request = H2loadRequest(
            url=base_url + "/",
            clients=self.clients,
            protocol=protocol,
            duration_s=self.settings.calibration_duration_s,
            warmup_s=self.settings.warmup_s,
        )
        return run_h2load(request, self.scratch)

    def locust(self, base_url: str) -> Measurement:
        request = LocustRequest(
            locustfile=LOCUSTFILES / "ceiling.py",
            host=base_url,
            steps=((LOCUST_USERS, self.settings.calibration_duration_s),),
        )
        return run_locust(request, self.scratch)

    def measure(self, figure: str, params: dict[str, Any], measure_once) -> None:
        repeats = measure_in_rounds([figure], lambda _: {figure: measure_once()}, self.settings)
        self.add(figure, params, repeats[figure])

    def nginx_targets(self) -> None:
        for protocol_id, tls, http2, protocol in NGINX_PROTOCOLS:
            figure = f"h2load {protocol_id} nginx"
            params = self.params("h2load", "nginx return 200", protocol_id, clients=self.clients)
            try:
                with running_nginx(
                    self.scratch / f"nginx-{protocol_id.replace('/', '').replace('+', '-')}",
                    upstream_port=None,
                    tls=self.tls if tls else None,
                    http2=http2,
                    prefix=self.pinning.server_prefix(),
                ) as proxy:
                    params["nginx_version"] = proxy.version
                    url = proxy.base_url
                    self.measure(figure, params, lambda u=url, p=protocol: self.h2load(u, p))
                    if protocol_id == "http/1.1":
                        params = self.params(
                            "locust",
                            "nginx return 200",
                            protocol_id,
                            answers_counted=ANSWERS_COUNTED_ON_ARRIVAL,
                        )
                        params["users"] = LOCUST_USERS
                        self.measure(
                            "locust http/1.1 nginx", params, lambda: self.locust(proxy.base_url)
                        )
            except NginxUnavailable as error:
                self.add(figure, params, [Measurement(failure=f"nginx: {error}"[:2000])])

    def raw_targets(self) -> None:
        for interface in ("asgi", "wsgi"):
            figure = f"h2load http/1.1 raw-{interface}"
            target = f"raw {interface.upper()} app on Granian (no Django)"
            params = self.params("h2load", target, "http/1.1", clients=self.clients)
            if self.granian is None:
                self.add(figure, params, [Measurement(failure="Granian is not installed")])
                continue
            try:
                with raw_app(self.granian, interface, self.scratch, self.pinning, 60) as (url, cmd):
                    params["command"] = cmd
                    self.measure(figure, params, lambda: self.h2load(url, "http/1.1"))
                    if interface == "wsgi":
                        params = self.params(
                            "locust",
                            target,
                            "http/1.1",
                            command=cmd,
                            answers_counted=ANSWERS_COUNTED_ON_ARRIVAL,
                        )
                        params["users"] = LOCUST_USERS
                        self.measure(
                            f"locust http/1.1 raw-{interface}", params, lambda: self.locust(url)
                        )
            except ServerGone as gone:
                self.add(figure, params, [Measurement(failure=str(gone)[:2000])])

    def run(self) -> list[dict[str, Any]]:
        self.nginx_targets()
        self.raw_targets()
        return self.figures
