"""Fixtures for the checks' end-to-end tests against real servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.definitions import ServerDefinition, load_definitions
from harness.environments import Environment, ensure_environment


@pytest.fixture(scope="session")
def runserver(environments_dir: Path) -> tuple[ServerDefinition, Environment]:
    """Django's runserver and its environment, built with uv once per session.

    Built in the session's own directory rather than ``.venvs/``: the environment's fingerprint
    includes the interpreter, so building it with the tests' Python would replace the one a
    capture made (possibly while that capture is using it).
    """
    definition = load_definitions()["runserver"]
    return definition, ensure_environment(definition, environments_dir)
