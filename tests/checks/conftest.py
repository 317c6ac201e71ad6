"""Fixtures for the checks' end-to-end tests against real servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.checks import CheckContext
from harness.definitions import ServerDefinition, load_definitions
from harness.environments import Environment, ensure_environment
from harness.launcher import Launcher
from harness.network import make_tls_material
from harness.profiles import PROFILES
from tests import synthetic
from tests.conftest import instance_for

WS_ECHO = Path(__file__).parents[1] / "apps" / "ws_echo.py"
TINY_WS = synthetic.definition("tiny-ws", interface="asgi")  # the ws_server fixture's default


def script_launcher(definition: ServerDefinition, scratch: Path) -> Launcher:
    """A Launcher for a server that is a script run by the tests' own Python (no environment
    to install), in the quick profile, with its scratch files under ``scratch``."""
    return Launcher(
        definition,
        Environment(path=scratch / "no-env", python_version="", packages={}),
        scratch,
        PROFILES["quick"],
        make_tls_material(scratch / "tls"),
    )


@pytest.fixture(scope="session")
def runserver(environments_dir: Path) -> tuple[ServerDefinition, Environment]:
    """Django's runserver and its environment, built with uv once per session.

    Built in the session's own directory rather than ``.venvs/``: the environment's fingerprint
    includes the interpreter, so building it with the tests' Python would replace the one a
    capture made (possibly while that capture is using it).
    """
    definition = load_definitions()["runserver"]
    return definition, ensure_environment(definition, environments_dir)


@pytest.fixture
def ws_server(script_server) -> Iterator:
    """Start tests/apps/ws_echo.py in a mode; returns a CheckContext around it. Always
    stopped after."""

    def start(mode: str, definition: ServerDefinition = TINY_WS) -> CheckContext:
        base_url, process = script_server(WS_ECHO, mode)
        endpoints = {"websocket": "/ws/echo"}
        return CheckContext(
            definition, endpoints, PROFILES["quick"], instance_for(base_url, process)
        )

    yield start
