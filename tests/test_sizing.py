"""Production sizing: the launcher starts each configuration with the workers and threads its
definition declares for the CPUs a server is given, records them, and a real server runs them."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil
import pytest

from harness.definitions import load_definitions
from harness.environments import Environment, ensure_environment
from harness.launcher import Launcher
from harness.network import make_tls_material
from harness.prepared import prepare_database, shown_command
from harness.profiles import PROFILES
from harness.sizing import ARTICLE_SIZING, SERVER_CPUS, sizing_record

DEFINITIONS = load_definitions()


def _launcher(server_id: str, tmp_path: Path, **fields) -> Launcher:
    environment = Environment(Path(sys.prefix), "synthetic", {})
    tls = make_tls_material(tmp_path / "tls")
    return Launcher(DEFINITIONS[server_id], environment, tmp_path, PROFILES["quick"], tls, **fields)


def _after(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_the_launcher_fills_the_production_workers_and_threads(tmp_path: Path) -> None:
    gthread = _launcher("gunicorn-gthread", tmp_path)
    argv = gthread.command("http", 8000)
    assert (_after(argv, "--workers"), _after(argv, "--threads")) == ("3", "8")
    shown = gthread.command("http", 8000, shown=True)
    assert (_after(shown, "--workers"), _after(shown, "--threads")) == ("3", "8")
    # An article's one-process protocol is asked for by name; the threads stay the pool's.
    article = gthread.command("http", 8000, workers=1)
    assert (_after(article, "--workers"), _after(article, "--threads")) == ("1", "8")
    # Sized for more CPUs, by the definition's own rule (2 x cores + 1).
    assert (
        _after(_launcher("gunicorn-gthread", tmp_path, cpus=4).command("http", 1), "--workers")
        == "9"
    )
    assert (
        _after(_launcher("granian-wsgi", tmp_path).command("http", 1), "--blocking-threads") == "8"
    )
    assert _after(_launcher("uwsgi-threads", tmp_path).command("http", 1), "--processes") == "2"
    # Waitress is one process whatever the CPUs; its pool is the declared 8 threads.
    waitress = _launcher("waitress", tmp_path, cpus=4)
    assert "--threads=8" in waitress.command("http", 1)
    assert waitress.workers() == 1
    assert DEFINITIONS["waitress"].requests_at_once("http", waitress.workers()) == 8
    # Daphne has no workers option: its command takes none, whatever it is sized for.
    assert "{workers}" not in " ".join(DEFINITIONS["daphne"].commands["http"])


def test_every_run_records_its_sizing() -> None:
    gthread = DEFINITIONS["gunicorn-gthread"]
    assert _after(shown_command(gthread), "--workers") == "3"
    assert sizing_record(gthread) == {
        "cpus": SERVER_CPUS,
        "workers": 3,
        "threads": 8,
        "capacity": 24,
        "serves": "threads",
        "rule": gthread.production.rule,
        "docs": "https://gunicorn.org/design/#how-many-workers",
        "loop": None,
    }
    article = sizing_record(DEFINITIONS["uvicorn"], workers=1)
    assert (article["workers"], article["capacity"], article["rule"]) == (1, None, ARTICLE_SIZING)
    assert "uvloop" in article["loop"]


def _workers_of(pid: int, expected: int) -> list[psutil.Process]:
    """The server's worker processes; a master may still be forking its last ones."""
    deadline = time.monotonic() + 10
    while True:
        children = psutil.Process(pid).children()
        if len(children) >= expected or time.monotonic() > deadline:
            return children
        time.sleep(0.1)


@pytest.mark.servers
def test_gunicorn_sync_really_runs_its_production_workers(
    tmp_path: Path, environments_dir: Path
) -> None:
    definition = DEFINITIONS["gunicorn-sync"]
    environment = ensure_environment(definition, environments_dir)
    launcher = Launcher(
        definition, environment, tmp_path, PROFILES["quick"], make_tls_material(tmp_path / "tls")
    )
    prepare_database(launcher)
    expected = definition.production_workers(SERVER_CPUS)
    assert expected == 3
    with launcher.launch("http") as instance:
        workers = _workers_of(instance.process.pid, expected)
        assert len(workers) == expected, [worker.cmdline() for worker in workers]
        assert instance.describe()["workers"] == expected
    with launcher.launch("http", workers=1) as instance:  # an article's one process
        assert len(_workers_of(instance.process.pid, 1)) == 1
