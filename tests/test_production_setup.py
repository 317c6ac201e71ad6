"""The production setup's middleware as the methodology page states it
(sampleproject/production_setup.toml) against what Django itself reads: the stack settings.py
builds under each interface, and each class's sync_capable / async_capable flags and hooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib

import pytest

from evidence.layout import REPO_ROOT
from evidence.validation import load_evidence
from generators.production_setup import SETUP_FILE, middleware_rows
from generators.render import render_pages
from harness.environments import Environment
from harness.launcher import Launcher
from harness.network import make_tls_material
from harness.profiles import PROFILES
from tests import synthetic

INTERFACES = ("wsgi", "asgi")

# Imports the settings and every middleware class in a fresh interpreter with the interface's
# environment, and prints what Django's handler reads from each (BaseHandler.load_middleware:
# sync_capable defaults to True, async_capable to False).
PROBE = """
import json
import django
django.setup()
from django.conf import settings
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string
HOOKS = ("process_request", "process_view", "process_response")
facts = []
for path in settings.MIDDLEWARE:
    cls = import_string(path)
    facts.append({
        "path": path,
        "sync_capable": getattr(cls, "sync_capable", True),
        "async_capable": getattr(cls, "async_capable", False),
        "mixin": issubclass(cls, MiddlewareMixin),
        "hooks": [hook for hook in HOOKS if hasattr(cls, hook)],
    })
print(json.dumps(facts))
"""
FACTS = ("path", "sync_capable", "async_capable", "mixin", "hooks")


def django_facts(**variables: str) -> list[dict]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "SAMPLEPROJECT_", "DATABASE_"))
        and name != "SYNC_MIDDLEWARE"
    }
    env.update(variables, DJANGO_SETTINGS_MODULE="sampleproject.settings")
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO_ROOT / "sampleproject",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def stated(interface: str) -> list[dict]:
    with SETUP_FILE.open("rb") as file:
        entries = tomllib.load(file)["middleware"]
    return [
        {fact: entry[fact] for fact in FACTS}
        for entry in entries
        if interface in entry["interfaces"]
    ]


@pytest.mark.parametrize("interface", INTERFACES)
def test_the_stated_production_stack_is_what_django_loads(interface: str) -> None:
    assert django_facts(SAMPLEPROJECT_INTERFACE=interface) == stated(interface)


@pytest.mark.parametrize(("interface", "static"), [("wsgi", "servestatic"), ("asgi", "whitenoise")])
def test_the_labelled_static_variant_has_the_stated_flags_too(interface: str, static: str) -> None:
    loaded = django_facts(SAMPLEPROJECT_INTERFACE=interface, DJANGO_STATIC_MIDDLEWARE=static)
    with SETUP_FILE.open("rb") as file:
        entries = tomllib.load(file)["middleware"]
    (variant,) = [entry for entry in entries if interface in entry.get("variant_for", [])]
    assert loaded[1] == {fact: variant[fact] for fact in FACTS}


@pytest.mark.parametrize("interface", INTERFACES)
def test_the_methodology_page_shows_each_middleware_with_django_s_flags(
    interface: str, methodology: str
) -> None:
    rows = {row["name"]: row for row in middleware_rows()}
    for facts in django_facts(SAMPLEPROJECT_INTERFACE=interface):
        name = facts["path"].rsplit(".", 1)[1]
        row = rows[name]
        assert (row["sync_capable"], row["async_capable"]) == (
            facts["sync_capable"],
            facts["async_capable"],
        )
        line = next(line for line in methodology.splitlines() if f"`{facts['path']}`" in line)
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        flags = (
            "yes" if facts["sync_capable"] else "no",
            "yes" if facts["async_capable"] else "no",
        )
        assert tuple(cells[2:4]) == flags, line


@pytest.fixture(scope="module")
def methodology(tmp_path_factory: pytest.TempPathFactory) -> str:

    data = tmp_path_factory.mktemp("data")
    synthetic.write_data(data, [synthetic.run("uvicorn")], [synthetic.benchmark("uvicorn")])
    return render_pages(load_evidence(data))["methodology.md"]


def test_a_server_never_inherits_the_harness_s_interface(monkeypatch, tmp_path) -> None:
    """A test process that imported asgi.py has SAMPLEPROJECT_INTERFACE=asgi in its
    environment; a WSGI server it starts must still choose its own (wsgi.py sets it)."""

    monkeypatch.setenv("SAMPLEPROJECT_INTERFACE", "asgi")
    launcher = Launcher(
        synthetic.definition("tiny-wsgi", interface="wsgi"),
        Environment(path=tmp_path / "no-env", python_version="", packages={}),
        tmp_path,
        PROFILES["quick"],
        make_tls_material(tmp_path / "tls"),
    )
    assert "SAMPLEPROJECT_INTERFACE" not in launcher.variables(dev_mode=False, extra={})
