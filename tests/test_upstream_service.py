"""The upstream service: a real Uvicorn in its own environment, started and always stopped; and
a service that cannot start says why instead of stopping the capture."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from harness.profiles import PROFILES
from harness.upstream import upstream_service
from tests.conftest import processes_mentioning

pytestmark = pytest.mark.servers
PROFILE = replace(PROFILES["quick"], start_timeout_s=60, stop_grace_s=5)


class Interrupted(Exception):
    """Stands for an error (or Ctrl-C) in the middle of a capture."""


def test_it_serves_the_slow_api_and_leaves_no_process_behind(tmp_path: Path) -> None:
    environments = tmp_path / "venvs"
    with (
        pytest.raises(Interrupted),
        upstream_service(environments, PROFILE, tmp_path / "scratch") as service,
    ):
        assert service.problem is None, service.describe()
        assert service.base_env() == {"UPSTREAM_BASE_URL": service.base_url}
        started = time.perf_counter()
        response = httpx.get(service.api_url(200), timeout=10)
        assert time.perf_counter() - started >= 0.2
        assert response.status_code == 200
        assert response.json()["delay_ms"] == 200
        description = service.describe()
        assert description["versions"]["uvicorn"] == "0.54.0"
        assert description["command"][:2] == ["uvicorn", "sampleproject.asgi:application"]
        assert processes_mentioning(str(environments))  # it really runs from its environment
        raise Interrupted
    assert processes_mentioning(str(environments)) == []


def test_a_service_that_cannot_be_installed_says_why(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("environments cannot go here\n")
    with upstream_service(not_a_directory, PROFILE, tmp_path / "scratch") as service:
        assert service.base_url is None
        assert service.base_env() == {}
        assert "could not be installed" in (service.problem or "")
