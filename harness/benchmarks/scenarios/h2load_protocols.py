"""The ``h2load`` scenario over the protocols beyond plain HTTP/1.1 (TLS, HTTP/2, nginx in
front), each on the server variant it needs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from harness.benchmarks.figures import figure_record, measure_in_rounds
from harness.benchmarks.measurement import Measurement
from harness.benchmarks.nginx import NginxUnavailable, running_nginx
from harness.benchmarks.scenarios.bench import MachineFault, ServerBench, ServerGone
from harness.benchmarks.scenarios.h2load_common import _h2load, _h2load_params
from harness.benchmarks.settings import PROTOCOLS
from harness.definitions import ServerDefinition
from harness.launcher import Instance, Launcher
from harness.process import StartError


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
        except (NginxUnavailable, StartError) as error:
            raise MachineFault(f"nginx could not be started: {error}") from error
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
            failed = Measurement(failure=str(gone)[:2000], failed_by=gone.failed_by)
            repeats = {key: [failed] for key in keys}
        for (endpoint, clients), measured in repeats.items():
            params = _h2load_params(bench, protocol_id, endpoint, clients, measured)
            if protocol_id.startswith("nginx"):
                params["proxy"] = "nginx: TLS and HTTP/2 to the client, HTTP/1.1 to the server"
            bench.add(
                figure_record("h2load", f"{protocol_id} {endpoint} c={clients}", params, measured)
            )
