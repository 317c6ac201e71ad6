"""Tiny servers around the sample project's real application, started by the harness's own
Launcher the way a capture starts servers (in sampleproject/, with a scratch SQLite file and
state dir): ``project_server`` for any synthetic definition, ``started`` for the tiny servers of
the static-files and large-upload checks' tests (tests/apps/body_range_wsgi.py,
disconnect_asgi.py), with the static files collected as a capture collects them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from evidence.schema import schema_errors
from evidence.validation import number_problems
from harness.checks import CheckContext
from harness.definitions import ServerDefinition
from harness.endpoints import load_endpoints
from harness.environments import Environment
from harness.launcher import Launcher
from harness.network import make_tls_material
from harness.prepared import collect_static
from harness.profiles import PROFILES
from tests import synthetic
from tests.checks.conftest import script_launcher

APPS = Path(__file__).parents[1] / "apps"
SCRIPTS = {"wsgi": APPS / "body_range_wsgi.py", "asgi": APPS / "disconnect_asgi.py"}
PROFILE = PROFILES["quick"]


def launcher_for(interface: str, mode: str, scratch: Path, collect: bool = True) -> Launcher:
    """A Launcher of the tiny server of ``interface`` in ``mode``; with ``collect``, its
    STATIC_ROOT collected (``collectstatic`` and ``make_large_static``, as a capture does)."""
    server = synthetic.definition(
        f"project-{interface}-{mode}",
        interface=interface,
        commands={"http": ("{python}", str(SCRIPTS[interface]), "{port}", mode)},
    )
    environment = Environment(Path(sys.prefix), "synthetic", {})
    launcher = Launcher(
        server,
        environment,
        scratch,
        PROFILE,
        make_tls_material(scratch / "tls"),
        static_root=scratch / "staticfiles" if collect else None,
    )
    if collect:
        collect_static(launcher)
    return launcher


@contextmanager
def started(
    interface: str, mode: str, scratch: Path, collect: bool = True
) -> Iterator[CheckContext]:
    """A CheckContext around the tiny server, always stopped after."""
    launcher = launcher_for(interface, mode, scratch, collect)
    with launcher.launch("http") as shared:
        yield CheckContext(launcher.definition, load_endpoints(), PROFILE, shared, launcher)


def assert_valid_in_a_run(result: dict) -> None:
    """A check's result, put in a SYNTHETIC run file, passes the run schema and the site's
    rules for numbers (no negative measurement)."""
    run = synthetic.run()
    run["checks"] = [result]
    assert schema_errors(run, "run") == []
    assert number_problems(run) == []


def project_server(stack: ExitStack, definition: ServerDefinition, scratch: Path) -> CheckContext:
    """Launch ``definition``'s http command in ``scratch`` (stopped when ``stack`` closes)
    and a CheckContext around it, with the quick profile and the project's endpoints."""
    launcher = script_launcher(definition, scratch)
    shared = stack.enter_context(launcher.launch("http"))
    return CheckContext(definition, load_endpoints(), PROFILES["quick"], shared, launcher)
