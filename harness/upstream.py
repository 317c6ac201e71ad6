"""The slow "external API" of the aggregation scenario, served by its own process.

The sample project's ``upstream_api`` view (``/upstream/api?delay_ms=N``) waits N ms and answers
a country. The ``/upstream/*`` aggregation views of the server under test call it three times.
It must not run on the server under test (a server that blocks would then also slow down its
own upstream) and it must be the same for every server, so one capture starts it once, under
Uvicorn in an environment of its own, before the first server, and stops it after the last.

It is not a measured server: its definition lives here, not in ``harness/servers/``.
A capture goes on when it cannot start; the checks that need it then record ``error`` with
the reason (checks find it as ``CheckContext.upstream``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.definitions import ServerDefinition
from harness.environments import InstallError, ensure_environment
from harness.launcher import Instance, Launcher
from harness.network import make_tls_material
from harness.process import StartError, log_tail
from harness.profiles import Profile

DEFINITION = ServerDefinition(
    id="upstream-service",
    name="Upstream service (Uvicorn)",
    interface="asgi",
    mode="production",
    summary=(
        "The slow external API of the aggregation scenario: the sample project's upstream_api "
        "view under Uvicorn, one process, shared by every server of a capture. Not measured."
    ),
    homepage="https://uvicorn.dev/",
    docs="https://uvicorn.dev/settings/",
    requirements=("uvicorn[standard]==0.54.0",),
    stop_signal="SIGTERM",
    commands={
        "http": (
            "uvicorn",
            "sampleproject.asgi:application",
            "--host",
            "{host}",
            "--port",
            "{port}",
            "--workers",
            "{workers}",
            "--no-access-log",
        )
    },
)
API_PATH = "/upstream/api"
ENV_VARIABLE = "UPSTREAM_BASE_URL"
PROBLEM_CHARS = 500  # the reason goes into check summaries; the log keeps the rest


@dataclass
class UpstreamService:
    """The running upstream (``base_url``), or why it is not running (``problem``, worded to
    follow "the upstream service")."""

    base_url: str | None
    instance: Instance | None = None
    versions: dict[str, str | None] = field(default_factory=dict)
    python: str | None = None
    problem: str | None = None
    log: str = ""

    @property
    def running(self) -> bool:
        return (
            self.base_url is not None
            and self.instance is not None
            and self.instance.process.exit_code() is None
        )

    def base_env(self) -> dict[str, str]:
        """What every server under test gets in its environment (nothing when not running)."""
        return {ENV_VARIABLE: self.base_url} if self.base_url else {}

    def api_url(self, delay_ms: int) -> str:
        assert self.base_url is not None, "the upstream service is not running"
        return f"{self.base_url}{API_PATH}?delay_ms={delay_ms}"

    def describe(self) -> dict[str, Any]:
        """How the upstream was run, for the evidence of the checks that use it."""
        description: dict[str, Any] = {
            "role": "the slow external API called by the /upstream/* views (not measured)",
            "environment": DEFINITION.id,
            "base_url": self.base_url,
            "requirements": list(DEFINITION.requirements),
            "versions": dict(self.versions),
            "python": self.python,
            "problem": self.problem,
        }
        if self.instance is not None:
            description["command"] = self.instance.shown_command
            description["ready_after_s"] = self.instance.ready_after_s
            exit_code = self.instance.process.exit_code()
            if exit_code is not None:
                description["exit_code"] = exit_code
                description["log_tail"] = log_tail(self.instance.log_path)
        elif self.log:
            description["log_tail"] = self.log
        return description


@contextmanager
def upstream_service(
    environments_dir: Path, profile: Profile, scratch: Path
) -> Iterator[UpstreamService]:
    """Start the upstream and stop it on exit; when it cannot start, yield one that says why.

    The process is a ``ServerProcess``, so ``end_all`` also ends it on error or Ctrl-C.
    """
    try:
        environment = ensure_environment(DEFINITION, environments_dir)
    except (InstallError, OSError, subprocess.SubprocessError) as error:
        problem = f"could not be installed: {error}"
        failed = UpstreamService(None, problem=problem[:PROBLEM_CHARS], log=str(error)[-4000:])
        yield failed
        return
    scratch.mkdir(parents=True, exist_ok=True)
    launcher = Launcher(
        DEFINITION, environment, scratch, profile, make_tls_material(scratch / "tls")
    )
    versions = {name: environment.packages.get(name) for name in ("uvicorn", "django")}
    with ExitStack() as stack:
        # Only the start is guarded: an exception from the caller's block must pass through.
        try:
            instance = stack.enter_context(launcher.launch("http"))
        except StartError as error:
            service = UpstreamService(
                None,
                versions=versions,
                python=environment.python_version,
                problem=f"did not start: {error.reason}"[:PROBLEM_CHARS],
                log=error.log_tail,
            )
        else:
            service = UpstreamService(
                instance.base_url, instance, versions, environment.python_version
            )
        yield service
