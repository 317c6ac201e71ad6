"""What the scenarios of one server share: its ``ServerBench`` (definition, launcher, settings,
the figures produced so far), ``ServerGone``, and the checks every measurement goes through."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.benchmarks.django_setup import PRODUCTION, middleware_env, middleware_params
from harness.benchmarks.measurement import Measurement
from harness.benchmarks.pinning import Pinning
from harness.benchmarks.settings import BenchmarkSettings
from harness.definitions import ServerDefinition
from harness.launcher import Instance, Launcher
from harness.process import StartError, log_tail
from harness.progress import ServerProgress
from harness.upstream import UpstreamService

SETTLE_S = 0.5  # after "ready", before reading idle memory: imports finish, workers settle


class ServerGone(Exception):
    """The server could not be started (or died) for a group of measurements."""

    failed_by = "server"


class MachineFault(ServerGone):
    """What a group of measurements needs besides the server (nginx, PostgreSQL, a load tool)
    could not run: the figures are failed, by the machine's fault, not the server's."""

    failed_by = "machine"


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
    # h2load figures' windows chosen by the profile's rule at their first repeat (see
    # h2load_common.window_s), kept for the later repeats.
    rule_windows: dict[tuple[Any, ...], float] = field(default_factory=dict)

    def add(self, record: dict[str, Any]) -> None:
        self.figures.append(record)
        if record["status"] == "ok":
            shown = {k: v for k, v in record["metrics"].items() if not k.startswith("step")}
            text = ", ".join(f"{k} {_short(v)}" for k, v in list(shown.items())[:4])
        else:
            text = f"FAILED: {record['failure']}"
        self.progress.note(f"{record['scenario']} / {record['figure']}: {text}"[:300])

    def common_params(self, workers: int | None = None) -> dict[str, Any]:
        """Where the server ran, its worker processes (the production count unless a
        reproduction names its article's) and the production middleware stack."""
        return {
            **self.pinning.as_record(),
            "workers": self.launcher.workers(workers),
            **middleware_params(PRODUCTION, self.definition.interface),
        }

    @contextmanager
    def server(
        self,
        kind: str = "http",
        env: dict[str, str] | None = None,
        port: int | None = None,
        workers: int | None = None,
        middleware_stack: str = PRODUCTION,
    ) -> Iterator[Instance]:
        """A fresh server (``workers``: default the production count) with the middleware
        stack's variables (the production stack unless said) and ``env``; ServerGone (with the
        reason and log tail) if it does not start."""
        self.launches += 1
        setup = middleware_env(middleware_stack, self.definition.interface)
        try:
            with self.launcher.launch(
                kind, env={**setup, **(env or {})}, port=port, workers=workers
            ) as instance:
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
