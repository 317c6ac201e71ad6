"""Against Django's own runserver, a real Django WSGI handler: the outcomes that Django's
handler decides, whatever the server does, are recorded as Django's (cause "django")."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checks import CheckContext, run_check
from harness.checks.hazards import request_bodies
from harness.checks.streaming import chunked
from harness.definitions import ServerDefinition
from harness.endpoints import load_endpoints
from harness.environments import Environment
from harness.launcher import Launcher
from harness.network import make_tls_material
from harness.profiles import PROFILES

_, CHUNKED_BODY = request_bodies.CHECKS
_, STREAM_ASYNC = chunked.CHECKS


@pytest.mark.servers
def test_django_decides_a_chunked_body_and_an_async_stream_under_wsgi(
    tmp_path: Path, runserver: tuple[ServerDefinition, Environment]
) -> None:
    server, environment = runserver
    profile = PROFILES["quick"]
    launcher = Launcher(server, environment, tmp_path, profile, make_tls_material(tmp_path / "t"))
    with launcher.launch("http") as shared:
        context = CheckContext(server, load_endpoints(), profile, shared, launcher)
        body = run_check(CHUNKED_BODY, context)
        stream = run_check(STREAM_ASYNC, context)
    assert (body["outcome"], body["cause"]) == ("no", "django"), body["summary"]
    assert "Django got 0 of 11 body bytes" in body["summary"]
    assert "did not mark its input terminated" in body["summary"]  # wsgiref sets no flag
    assert (stream["outcome"], stream["cause"]) == ("no", "django"), stream["summary"]
    assert stream["evidence"]["classification"] == "buffered"
    assert "async_to_sync" in stream["cause_detail"]
