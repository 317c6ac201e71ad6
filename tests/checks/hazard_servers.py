"""The hazard server (tests/apps/hazard_server.py, synthetic) started by the harness's own
Launcher in one of its modes, for the Production hazards checks' tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.checks import CheckContext
from harness.definitions import ServerDefinition
from harness.endpoints import load_endpoints
from harness.environments import Environment
from harness.launcher import Launcher
from harness.network import make_tls_material
from harness.profiles import PROFILES
from tests import synthetic

APP = Path(__file__).parents[1] / "apps" / "hazard_server.py"
PROFILE = PROFILES["quick"]


def tiny_definition(mode: str, mount: str = "", interface: str = "wsgi") -> ServerDefinition:
    return synthetic.definition(
        f"hazard-{mode}",
        name=f"hazard server ({mode})",
        interface=interface,
        commands={"http": ("{python}", str(APP), "{port}", mode)},
        env={"HAZARD_MOUNT": mount},
        mount=mount,
    )


@contextmanager
def started(
    mode: str, scratch: Path, mount: str = "", interface: str = "wsgi"
) -> Iterator[CheckContext]:
    """A CheckContext around the hazard server in ``mode``, started by the harness's Launcher,
    declared as a server of ``interface``."""
    server = tiny_definition(mode, mount, interface)
    environment = Environment(Path(sys.prefix), "synthetic", {})
    launcher = Launcher(server, environment, scratch, PROFILE, make_tls_material(scratch / "tls"))
    with launcher.launch("http") as shared:
        yield CheckContext(server, load_endpoints(), PROFILE, shared, launcher)
