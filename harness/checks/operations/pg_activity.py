"""What PostgreSQL says about the client connections of one database: live ones counted by
state (``pg_stat_activity``, sampled in a thread while a check loads a server), sessions
opened and ended since a mark (``pg_stat_database``), and the cluster's idle-session timeout,
switched on and off for the check's idle phase.

Everything here runs through one superuser connection to the ``postgres`` maintenance
database, so the watcher is never one of the connections it counts, and it sets the idle
timeout off for itself so that the timeout it switches on never ends it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg import sql

from harness.postgres import PostgresInstance

MAINTENANCE_DATABASE = "postgres"
SAMPLE_EVERY_S = 0.1
GONE_WITHIN_S = 15.0  # a stopped server's backends end within this (they read EOF and exit)
# Counters of pg_stat_database (PostgreSQL 14+): sessions opened, and how sessions ended other
# than by the client saying goodbye: abandoned (the client vanished), fatal (ended by the
# server with a FATAL error, as the idle-session timeout does), killed (pg_terminate_backend).
SESSION_COUNTERS = ("sessions", "sessions_abandoned", "sessions_fatal", "sessions_killed")

COUNT_BY_STATE = sql.SQL(
    "SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity "
    "WHERE datname = %s AND backend_type = 'client backend' GROUP BY 1"
)
SESSION_TOTALS = sql.SQL("SELECT {} FROM pg_stat_database WHERE datname = %s").format(
    sql.SQL(", ").join(sql.Identifier(name) for name in SESSION_COUNTERS)
)


class ActivityWatch:
    """Client connections of ``database`` on ``cluster``, read by its own connection."""

    def __init__(self, cluster: PostgresInstance, database: str) -> None:
        self.database = database
        self._connection = psycopg.connect(cluster.url_of(MAINTENANCE_DATABASE), autocommit=True)
        # A session-level value outranks the configuration file, so the watcher keeps its
        # connection through the idle timeout it sets for everyone else.
        self._connection.execute("SET idle_session_timeout = 0")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._connection.close()

    def by_state(self) -> dict[str, int]:
        """Live client connections of the database right now, by state (idle, active...)."""
        rows = self._connection.execute(COUNT_BY_STATE, (self.database,)).fetchall()
        return {state: count for state, count in rows}

    def total(self) -> int:
        return sum(self.by_state().values())

    def session_totals(self) -> dict[str, int]:
        """The database's session counters so far (a backend reports its own at exit, so
        they are complete once the connections counted are gone)."""
        row = self._connection.execute(SESSION_TOTALS, (self.database,)).fetchone()
        return dict(zip(SESSION_COUNTERS, row or (0,) * len(SESSION_COUNTERS), strict=True))

    def wait_until_gone(self, within_s: float = GONE_WITHIN_S) -> int:
        """Wait until no client is connected to the database; the count left at the end."""
        deadline = time.monotonic() + within_s
        while (left := self.total()) and time.monotonic() < deadline:
            time.sleep(SAMPLE_EVERY_S)
        return left

    def set_idle_timeout(self, seconds: float | None) -> None:
        """The cluster's idle_session_timeout (None: off, PostgreSQL's default). A session
        takes a reloaded value at its next command, not while it waits idle."""
        if seconds is None:
            self._connection.execute("ALTER SYSTEM RESET idle_session_timeout")
        else:
            milliseconds = sql.Literal(f"{round(seconds * 1000)}ms")
            self._connection.execute(
                sql.SQL("ALTER SYSTEM SET idle_session_timeout = {}").format(milliseconds)
            )
        self._connection.execute("SELECT pg_reload_conf()")

    @contextmanager
    def sampled(self) -> Iterator[Samples]:
        """Count the connections every SAMPLE_EVERY_S in a thread while in the block."""
        samples = Samples(time.monotonic())
        stop = threading.Event()

        def sample() -> None:
            while True:
                samples.add(time.monotonic(), self.by_state())
                if stop.wait(SAMPLE_EVERY_S):
                    return

        thread = threading.Thread(target=sample, name="pg-activity", daemon=True)
        thread.start()
        try:
            yield samples
        finally:
            stop.set()
            thread.join()
            samples.add(time.monotonic(), self.by_state())


class Samples:
    """Connection counts over time: the peak, and a short timeline for the evidence.

    The peak that counts is the sustained one, the most connections seen in two consecutive
    samples: a backend whose client has just closed it stays listed until it has exited, so
    under a connection per request a single sample can count a connection twice."""

    TIMELINE_POINTS = 60

    def __init__(self, began: float) -> None:
        self.began = began
        self.peak = 0  # the highest single sample
        self.sustained_peak = 0
        self.peak_by_state: dict[str, int] = {}
        self.points: list[tuple[float, int]] = []

    def add(self, at: float, by_state: dict[str, int]) -> None:
        total = sum(by_state.values())
        if total > self.peak or not self.points:
            self.peak, self.peak_by_state = total, by_state
        if self.points:
            self.sustained_peak = max(self.sustained_peak, min(total, self.points[-1][1]))
        self.points.append((round(at - self.began, 2), total))

    def timeline(self) -> list[list[Any]]:
        """At most TIMELINE_POINTS [seconds, connections] pairs, evenly picked, the peak kept."""
        if len(self.points) <= self.TIMELINE_POINTS:
            kept = self.points
        else:
            step = len(self.points) / self.TIMELINE_POINTS
            picked = {round(i * step) for i in range(self.TIMELINE_POINTS)}
            picked.add(max(range(len(self.points)), key=lambda i: self.points[i][1]))
            picked.add(len(self.points) - 1)
            kept = [self.points[i] for i in sorted(picked)]
        return [list(point) for point in kept]


def create_database(cluster: PostgresInstance, name: str) -> None:
    """An empty database of the check's own on the cluster."""
    with psycopg.connect(cluster.url_of(MAINTENANCE_DATABASE), autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(cluster: PostgresInstance, name: str) -> None:
    """Drop it, ending any connection a server left behind (PostgreSQL 13+'s FORCE)."""
    with psycopg.connect(cluster.url_of(MAINTENANCE_DATABASE), autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
