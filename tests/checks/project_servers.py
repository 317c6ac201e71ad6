"""Tiny test servers around the sample project's real application, started the way the
harness starts servers (in sampleproject/, with a scratch SQLite file and state dir)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from harness.checks import CheckContext
from harness.definitions import ServerDefinition
from harness.endpoints import load_endpoints
from harness.environments import Environment
from harness.launcher import Launcher
from harness.network import make_tls_material
from harness.profiles import PROFILES


def project_server(stack: ExitStack, definition: ServerDefinition, scratch: Path) -> CheckContext:
    """Launch ``definition``'s http command in ``scratch`` (stopped when ``stack`` closes)
    and a CheckContext around it, with the quick profile and the project's endpoints."""
    launcher = Launcher(
        definition,
        Environment(path=scratch / "no-env", python_version="", packages={}),
        scratch,
        PROFILES["quick"],
        make_tls_material(scratch / "tls"),
    )
    shared = stack.enter_context(launcher.launch("http"))
    return CheckContext(definition, load_endpoints(), PROFILES["quick"], shared, launcher)
