"""mod_wsgi-express: Apache compiled against from PyPI, started as sized, serving the project,
and gone, children and daemon processes included, whichever way it is stopped."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time

import httpx
import psutil
import pytest

from harness.checks_phase import option_scratch_name
from harness.definitions import load_definitions
from harness.endpoints import SAMPLEPROJECT_DIR
from harness.environments import ENVIRONMENTS_DIR, ensure_environment
from harness.launcher import Launcher
from harness.network import make_tls_material
from harness.prepared import prepare_database
from harness.process_registry import scratch_folder
from harness.profiles import PROFILES
from harness.sizing import SERVER_CPUS
from harness.worker_account import unreachable_parts

DEFINITION = load_definitions()["mod-wsgi-express"]
STOP_WAIT_S = 30

# Under root, Apache's workers run as www-data, which must enter the clone (a clone under
# /root cannot be served; a capture then says so in its start error).
CLOSED_TO_WORKERS = unreachable_parts(SAMPLEPROJECT_DIR, ENVIRONMENTS_DIR.parent)

pytestmark = [
    pytest.mark.servers,
    pytest.mark.skipif(
        shutil.which("apxs") is None,
        reason="Apache's apxs is missing: install apache2-dev (requirements/system-packages.txt)",
    ),
    pytest.mark.skipif(
        bool(CLOSED_TO_WORKERS),
        reason=f"Apache's workers' account cannot enter {CLOSED_TO_WORKERS}",
    ),
]


def _tree(pid: int) -> list[psutil.Process]:
    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


def _daemons(pid: int, expected: int) -> list[psutil.Process]:
    """mod_wsgi's daemon processes (named "(wsgi:...)"); Apache may still be forking them."""
    deadline = time.monotonic() + 20
    while True:
        found = [p for p in _tree(pid)[1:] if " ".join(p.cmdline()).startswith("(wsgi")]
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _gone(processes: list[psutil.Process]) -> list[str]:
    _, alive = psutil.wait_procs(processes, timeout=STOP_WAIT_S)
    return [f"{p.pid} {p.name()}" for p in alive]


@pytest.mark.parametrize("stop", ["harness", "SIGINT"])
def test_apache_serves_as_sized_and_leaves_nothing_behind(stop: str) -> None:
    # The environments directory of captures: a pytest folder is closed to Apache's workers'
    # account, which must read the environment and its Python (harness/worker_account.py).
    environment = ensure_environment(DEFINITION)
    with scratch_folder("serving-django-test-mod-wsgi-") as scratch:
        launcher = Launcher(
            DEFINITION, environment, scratch, PROFILES["quick"], make_tls_material(scratch / "tls")
        )
        prepare_database(launcher)
        expected = DEFINITION.production_workers(SERVER_CPUS)
        with launcher.launch("http") as instance:
            answer = httpx.get(instance.url("/json/sync"), timeout=10)
            assert answer.status_code == 200, answer.text
            daemons = _daemons(instance.process.pid, expected)
            assert len(daemons) == expected, [p.cmdline() for p in _tree(instance.process.pid)]
            everything = _tree(instance.process.pid)
            if stop == "SIGINT":  # Apache's parent treats SIGINT as SIGTERM: stop at once
                os.kill(instance.process.pid, signal.SIGINT)
                assert _gone(everything) == []
        assert _gone(everything) == []
        if stop == "harness":
            assert instance.shutdown is not None and not instance.shutdown.forced


def test_the_daemon_socket_of_every_option_fits_a_unix_socket_path() -> None:
    """mod_wsgi puts its daemon socket in --server-root, under the option's scratch folder; a
    Unix socket's path holds at most 107 bytes, and one longer left every request a 503."""
    scratch = f"{tempfile.gettempdir()}/serving-django-{DEFINITION.id}-{'x' * 8}"
    widest = "apache-65535/wsgi.4194304.u65534.1.sock"  # the largest port, pid and uid
    for option_id in DEFINITION.options:
        path = f"{scratch}/{option_scratch_name(option_id)}/{widest}"
        assert len(path.encode()) <= 107, (option_id, path)
