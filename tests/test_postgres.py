"""PostgreSQL as the harness runs it: Debian's server in a scratch cluster, as the postgres
user, on 127.0.0.1; ended with its backends when the block ends, also on an exception."""

from __future__ import annotations

import socket
import time

import psutil
import psycopg
import pytest

from harness import postgres
from harness.postgres import PostgresUnavailable, running_postgres
from harness.process import StartError

pytestmark = pytest.mark.skipif(
    postgres.find_bin_dir() is None, reason="PostgreSQL is not installed (postgresql-15)"
)


def test_a_scratch_cluster_answers_and_ends_with_every_backend() -> None:
    with running_postgres() as instance:
        with psycopg.connect(instance.url) as connection:
            (version,) = connection.execute("SHOW server_version").fetchone()
            (database,) = connection.execute("SELECT current_database()").fetchone()
        tree = [
            psutil.Process(instance.process.pid),
            *psutil.Process(instance.process.pid).children(recursive=True),
        ]
        assert f" {version.split()[0]} " in instance.version
        assert database == "polls"
        assert instance.as_record()["server"] == "PostgreSQL"
    _, alive = psutil.wait_procs(tree, timeout=5)
    assert not alive


def test_it_is_ended_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError), running_postgres() as instance:
        pid = instance.process.pid
        raise RuntimeError("the figure failed")
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_machine_without_postgresql_is_told_what_to_install(monkeypatch) -> None:
    monkeypatch.setattr(postgres, "find_bin_dir", lambda: None)
    with (
        pytest.raises(PostgresUnavailable, match="apt-get install postgresql-15"),
        running_postgres(),
    ):
        pass


def test_the_sampler_counts_client_connections_not_the_server_s_own_processes() -> None:
    from harness.benchmarks.cpu import tree_counts

    with running_postgres() as instance:
        _, idle = tree_counts(instance.process.pid)
        connections = [psycopg.connect(instance.url) for _ in range(3)]
        try:
            _, busy = tree_counts(instance.process.pid)
        finally:
            for connection in connections:
                connection.close()
    assert idle == 0  # checkpointer, walwriter... are not clients
    assert busy == 3


def test_a_taken_port_is_reported_with_the_bind_error_from_its_log(monkeypatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setattr(postgres, "free_port", lambda: taken.getsockname()[1])
        with pytest.raises(StartError) as failure, running_postgres():
            pytest.fail("PostgreSQL started on a taken port")
    assert "exited with code 1 at start" in failure.value.reason
    assert "could not bind" in failure.value.reason
    assert "Address already in use" in failure.value.reason


def test_the_cpu_of_backends_that_exited_stays_in_postgresql_s_figure() -> None:
    # The fault this guards against: a backend per connection, gone (reaped by the
    # postmaster) before the next sample, took its CPU time with it.
    from harness.benchmarks.cpu import tree_cpu_seconds

    with running_postgres() as instance:
        before = tree_cpu_seconds(instance.process.pid)
        backends_s = 0.0
        for _ in range(3):
            with psycopg.connect(instance.url) as connection:
                (pid,) = connection.execute("SELECT pg_backend_pid()").fetchone()
                connection.execute("SELECT count(*) FROM generate_series(1, 1000000)")
                times = psutil.Process(pid).cpu_times()
                backends_s += times.user + times.system
            while psutil.pid_exists(pid):  # a zombie's pid exists until the postmaster reaps it
                time.sleep(0.01)
        after = tree_cpu_seconds(instance.process.pid)
    assert backends_s > 0
    assert after - before >= backends_s
