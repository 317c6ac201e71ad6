"""Locust's command line and the environment variables that carry its steps to the locustfile."""

from __future__ import annotations

import importlib.metadata
import math
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# harness/benchmarks/locustfiles/, beside this package; Locust runs them as scripts.
LOCUSTFILES = Path(__file__).parent.parent / "locustfiles"
RUN_TIME_MARGIN_S = 5  # -t after the last step: a backstop, the shape stops Locust first
JSON_STEM = "locust"  # --json-file appends ".json"
STEPS_DIR = "steps"
START_FILE = "start"  # created when Locust may begin its steps (see _steps.py)
# Variables that would change what Locust does behind the command's back.
INHERITED_PREFIXES = ("LOCUST_", "SERVING_DJANGO_")


@dataclass(frozen=True)
class LocustRequest:
    locustfile: Path
    host: str
    steps: tuple[tuple[int, float], ...]  # (users, seconds)
    timeout_s: float = 5.0
    spawn_rate: float | None = None  # None: _steps' default, fast enough to ramp in 0.5 s
    ramp_s: float = 0.0  # the start of every step, kept apart from its figures (see _steps)
    processes: int = 1
    env: Mapping[str, str] = field(default_factory=dict)  # e.g. SERVING_DJANGO_PATH

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("a Locust run needs at least one step")
        users = [count for count, _ in self.steps]
        if any(count < 0 for count in users) or any(not s > 0 for _, s in self.steps):
            raise ValueError(f"steps need users >= 0 and seconds > 0: {self.steps}")
        if len(set(users)) != len(users):
            # Per-step metrics are named after their user count (step50_...).
            raise ValueError(f"each step needs its own user count: {self.steps}")
        if not 0 <= self.ramp_s < min(seconds for _, seconds in self.steps):
            raise ValueError(f"ramp_s must be >= 0 and shorter than every step: {self.ramp_s}")
        if self.processes < 1 or not self.timeout_s > 0:
            raise ValueError("processes must be >= 1 and timeout_s > 0")

    @property
    def total_s(self) -> float:
        return sum(seconds for _, seconds in self.steps)


def steps_text(steps: Iterable[tuple[int, float]]) -> str:
    """The SERVING_DJANGO_STEPS form: ``50:4,150:4``."""
    return ",".join(f"{users}:{seconds:g}" for users, seconds in steps)


def locust_command(request: LocustRequest, out_dir: Path) -> list[str]:
    """Locust's command line; the steps and timeouts travel in ``locust_environment``."""
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(request.locustfile),
        "--headless",
        "--only-summary",
        "-H",
        request.host,
        "-t",
        f"{math.ceil(request.total_s) + RUN_TIME_MARGIN_S}s",
        "--json-file",
        str(out_dir / JSON_STEM),
        "--stop-timeout",
        f"{stop_timeout_s(request):g}",
    ]
    if request.processes > 1:
        command += ["--processes", str(request.processes)]
    return command


def stop_timeout_s(request: LocustRequest) -> float:
    """How long users may finish their task after the last step: without it, Locust kills
    the requests in flight, and the last step never shows an overloaded server's timeouts.
    Every request sent during a step gets its full timeout (+ 1 s of margin); a task's next
    request would count in no step, so polls users do not send it once Locust is stopping."""
    return request.timeout_s + 1


def serving_django_variables(request: LocustRequest, out_dir: Path) -> dict[str, str]:
    variables = dict(request.env)
    variables["SERVING_DJANGO_STEPS"] = steps_text(request.steps)
    variables["SERVING_DJANGO_TIMEOUT_S"] = f"{request.timeout_s:g}"
    variables["SERVING_DJANGO_STEP_STATS"] = str(out_dir / STEPS_DIR)
    variables["SERVING_DJANGO_START_FILE"] = str(out_dir / START_FILE)
    if request.ramp_s:
        variables["SERVING_DJANGO_RAMP_S"] = f"{request.ramp_s:g}"
    if request.spawn_rate is not None:
        variables["SERVING_DJANGO_SPAWN_RATE"] = f"{request.spawn_rate:g}"
    return variables


def locust_environment(request: LocustRequest, out_dir: Path) -> dict[str, str]:
    inherited = {
        name: value for name, value in os.environ.items() if not name.startswith(INHERITED_PREFIXES)
    }
    return {**inherited, **serving_django_variables(request, out_dir)}


def locust_version() -> str | None:
    """Version of the Locust that ``locust_command`` runs (the harness's own environment)."""
    try:
        return importlib.metadata.version("locust")
    except importlib.metadata.PackageNotFoundError:
        return None
