"""The database-connections check against a real PostgreSQL: it tells a server that leaks a
connection per request, or keeps using one the database has ended, from one that closes its
connections or replaces an ended one (tests/apps/db_app.py, synthetic); and it runs the sample
project's three connection setups under a real server, each chosen by its variables."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest

from harness import postgres
from harness.capture import _database
from harness.checks import CheckContext, run_check
from harness.checks.operations import database_connections
from harness.checks.operations.database_connections import exception_lines
from harness.definitions import load_definitions
from harness.endpoints import load_endpoints
from harness.environments import Environment
from harness.launcher import Launcher
from harness.network import make_tls_material
from harness.postgres import PostgresInstance
from harness.profiles import PROFILES
from tests import synthetic

pytestmark = pytest.mark.skipif(
    postgres.find_bin_dir() is None, reason="PostgreSQL is not installed (postgresql-15)"
)

APP = Path(__file__).parents[1] / "apps" / "db_app.py"
PROFILE = PROFILES["quick"]
(CHECK,) = database_connections.CHECKS
# PostgreSQL's default max_connections, which a leak of one connection per request exceeds.
MORE_THAN_THE_CLUSTER_ALLOWS = 150


@contextmanager
def started(definition, scratch: Path, cluster: PostgresInstance | None) -> Iterator[CheckContext]:
    """A CheckContext around ``definition`` started by the harness's Launcher in the tests'
    own environment (which has Django, the sample project's packages and Daphne)."""
    environment = Environment(Path(sys.prefix), "tests", {})
    tls = make_tls_material(scratch / "tls")
    launcher = Launcher(definition, environment, scratch, PROFILE, tls)
    with launcher.launch("http") as shared:
        yield CheckContext(
            definition, load_endpoints(), PROFILE, shared, launcher, database=cluster
        )


@pytest.fixture
def tiny_app_check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database: PostgresInstance):
    """Run the check on db_app in a mode, in one setup (the app ignores the setups' variables,
    so the three would measure the same): a connection per request, whose bound is the
    clients at once, shown as the outcome; and without migrating the sample project's tables,
    which the app never reads."""
    every_setup = database_connections.setups

    def one_setup(context: CheckContext) -> list[database_connections.Setup]:
        (per_request,) = [s for s in every_setup(context) if s.id == "conn-max-age-0"]
        return [replace(per_request, production=True)]

    monkeypatch.setattr(database_connections, "setups", one_setup)
    monkeypatch.setattr(database_connections, "prepare_database", lambda *args: None)
    monkeypatch.setattr(database_connections, "LOAD_REQUESTS", MORE_THAN_THE_CLUSTER_ALLOWS)

    def run(mode: str) -> tuple[dict[str, Any], dict[str, Any]]:
        definition = synthetic.definition(
            f"db-app-{mode}", commands={"http": ("{python}", str(APP), "{port}", mode)}
        )
        with started(definition, tmp_path / mode, database) as context:
            result = run_check(CHECK, context)
        return result, result["evidence"]["setups"][0]

    return run


def test_a_server_that_opens_a_connection_per_request_and_never_closes_it_is_no(
    tiny_app_check,
) -> None:
    result, setup = tiny_app_check("leak")
    assert result["outcome"] == "no", result["summary"]
    assert "connections grow with requests" in result["summary"]
    assert setup["left_after_load"] > setup["bound"]
    # Past max_connections PostgreSQL refuses the next ones: the server's log says so.
    assert setup["load"]["statuses"].get("500")
    assert any("too many clients" in line for line in setup["server_exceptions"])


def test_a_server_that_closes_each_connection_is_yes(tiny_app_check) -> None:
    result, setup = tiny_app_check("close")
    assert result["outcome"] == "yes", result["summary"]
    assert setup["left_after_load"] == 0
    assert setup["peak_connections"] <= setup["bound"]
    assert setup["after_idle"]["failed"] == 0
    assert setup["sessions"]["sessions"] >= MORE_THAN_THE_CLUSTER_ALLOWS  # one per request


def test_a_server_that_replaces_a_connection_the_database_ended_is_partial(
    tiny_app_check,
) -> None:
    result, setup = tiny_app_check("keep")
    assert result["outcome"] == "partial", result["summary"]
    assert setup["ended_by_timeout"] >= 1
    assert setup["after_idle"]["failed"] == 1
    assert setup["after_idle"]["retried"] == {"200": 1}
    assert any("idle-session timeout" in line for line in setup["server_exceptions"])
    # No setup with health checks ran beside it to show the server blameless: its own.
    assert result.get("cause", "server") == "server"


def test_a_server_that_keeps_using_a_connection_the_database_ended_is_no(
    tiny_app_check,
) -> None:
    result, setup = tiny_app_check("stuck")
    assert result["outcome"] == "no", result["summary"]
    assert "more failures than ended connections" in result["summary"]
    assert setup["after_idle"]["failed"] == setup["after_idle"]["requests"]
    assert setup["ended_by_timeout"] >= 1  # the database ended it


@pytest.mark.servers
def test_the_sample_project_runs_each_setup_its_variables_choose(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(database_connections, "LOAD_REQUESTS", 300)
    daphne = load_definitions()["daphne"]  # installed in the tests' environment
    with started(daphne, tmp_path, cluster=None) as context:  # starts a cluster of its own
        result = run_check(CHECK, context)
    assert result["evidence"]["database_server"]["cluster"] == "started for this check"
    setup = {record["setup"]: record for record in result["evidence"]["setups"]}
    assert list(setup) == ["pool", "pool-health-checks", "conn-max-age-60", "conn-max-age-0"]
    assert result["outcome"] == setup["pool"]["outcome"]

    pool = setup["pool"]
    assert pool["instance"]["env"]["DATABASE_POOL_MAX_SIZE"] == "10"
    assert pool["peak_connections"] == pool["bound"] == 10  # min_size = max_size
    assert pool["sessions"]["sessions"] <= 2 * pool["bound"]  # its own, and their replacements
    # Without CONN_HEALTH_CHECKS the pool hands out a connection the database ended: one 500
    # per ended connection, then a fresh one.
    ended, after = pool["ended_by_timeout"], pool["after_idle"]
    assert after["failed"] + after["failed_again"] <= ended
    assert any("idle-session timeout" in line for line in pool["server_exceptions"]) == bool(
        after["failed"]
    )

    # With CONN_HEALTH_CHECKS the pool checks each connection before handing it out: the
    # ones the database ended are replaced, and no request fails for them.
    checked = setup["pool-health-checks"]
    assert checked["instance"]["env"]["DATABASE_HEALTH_CHECKS"] == "1"
    assert checked["after_idle"]["failed"] == 0, checked["summary"]
    assert checked["outcome"] == "yes", checked["summary"]
    # So the pool's failures are Django's, not the server's: the same server served every
    # request once Django checked its connections.
    if pool["outcome"] == "partial":
        assert result["cause"] == "django", result
        assert "CONN_HEALTH_CHECKS" in result["cause_detail"]

    unpooled = setup["conn-max-age-0"]
    assert unpooled["outcome"] == "yes", unpooled["summary"]
    assert unpooled["left_after_load"] == 0
    assert unpooled["sessions"]["sessions"] >= 300  # a new connection for every request

    # Under ASGI each request's sync code runs in a thread of its own: persistent connections
    # are opened request after request and are not reused.
    persistent = setup["conn-max-age-60"]
    assert persistent["instance"]["env"]["DATABASE_CONN_MAX_AGE"] == "60"
    assert persistent["sessions"]["sessions"] > 300 / 2


def _setup_record(setup: str, outcome: str, failed_after_idle: int, peak: int = 10) -> dict:
    return {
        "setup": setup,
        "production": setup == "pool",
        "outcome": outcome,
        "after_idle": {"failed": failed_after_idle},
        "peak_connections": peak,
        "bound": 10,
    }


@pytest.mark.parametrize(
    ("pool", "checked", "cause"),
    [
        # Failures on ended connections, none once Django checks them: Django's.
        (("partial", 8, 10), ("yes", 0, 10), "django"),
        # The checked pool failed too: the server's part is not ruled out.
        (("partial", 8, 10), ("partial", 3, 10), "server"),
        # Partial for a peak past the bound: the server's connections, not Django's check.
        (("partial", 0, 14), ("yes", 0, 10), "server"),
        # A leak or a failure under load is never put down to the missing check.
        (("no", 8, 10), ("yes", 0, 10), "server"),
    ],
)
def test_the_pools_failures_are_djangos_only_where_its_check_cured_them(
    pool: tuple[str, int, int], checked: tuple[str, int, int], cause: str
) -> None:
    records = [_setup_record("pool", *pool), _setup_record("pool-health-checks", *checked)]
    assert database_connections.attribute(records)[0] == cause


def test_exception_lines_are_the_last_lines_of_tracebacks_counted() -> None:
    log = "\n".join(
        [
            "2026-12-07 06:00:00 ERROR django.request pid=1 Internal Server Error: /polls/1/",
            "Traceback (most recent call last):",
            '  File "x.py", line 1, in f',
            "psycopg.errors.IdleSessionTimeout: terminating connection due to idle-session timeout",
            "django.db.utils.OperationalError: terminating connection due to idle-session timeout",
            "psycopg.errors.IdleSessionTimeout: terminating connection due to idle-session timeout",
            "WARNING: not an exception line",
        ]
    )
    assert exception_lines(log) == {
        "psycopg.errors.IdleSessionTimeout: terminating connection due to idle-session timeout": 2,
        "django.db.utils.OperationalError: terminating connection due to idle-session timeout": 1,
    }


class _Notes:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def note(self, text: str) -> None:
        self.lines.append(text)


class _Capture:
    def __init__(self, checks) -> None:
        self.checks = checks

    def selected_checks(self):
        return self.checks


def test_a_capture_starts_postgresql_only_for_a_check_that_needs_it() -> None:
    notes = _Notes()
    with _database(_Capture([]), notes) as cluster:  # type: ignore[arg-type]
        assert cluster is None
    assert notes.lines == []
    with _database(_Capture([CHECK]), notes) as cluster:  # type: ignore[arg-type]
        assert cluster is not None
        with psycopg.connect(cluster.url_of("postgres")) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
        pid = cluster.process.pid
    assert cluster.process.exit_code() is not None, f"PostgreSQL {pid} still runs"
