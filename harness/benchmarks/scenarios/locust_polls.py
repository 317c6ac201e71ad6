"""The ``locust-polls`` scenario: users voting in the polls app, in steps of users.

The article's setup ("A Guide to ASGI in Django 3.0 and its Performance", March 2020):
PostgreSQL, nginx in front of the server, users stepping 100 to 700, each step's ramp left out
and a steady part measured, Locust's own 60 s timeout so that failures are the stack's (nginx's
502/504, a 500 from Django, refused connections), not the load tool's impatience. It is measured
with Django's psycopg pool (``django_setup.polls_pool_size`` per worker process, with a
timeout) on every configuration, and unpooled (a new connection per request, as Django does
without ``CONN_MAX_AGE`` or a pool) on the profile's ``polls_unpooled_servers``, against the
same PostgreSQL. And ours: SQLite, no proxy, short steps, labelled as ours.
"""

from __future__ import annotations

from harness.benchmarks.django_setup import (
    POOL_TIMEOUT_S,
    UNPOOLED_VARIANT,
    connection_params,
    polls_pool_size,
    pooled_env,
    runs_variant,
)
from harness.benchmarks.figures import failed_figure
from harness.benchmarks.nginx import nginx_version
from harness.benchmarks.scenarios.bench import ServerBench
from harness.benchmarks.scenarios.locust_common import _locust_scenario
from harness.postgres import PostgresUnavailable, running_postgres
from harness.prepared import PrepareError, prepare_database
from harness.process import StartError

TASK = {"wait_s": "between 1 and 2", "task": "GET vote form, POST vote"}
# The unpooled figure keeps the name the article's figure had before pooling, when it was
# the only setup measured: an earlier capture's figure of that name is the same setup.
ARTICLE_FIGURE = "polls vote, PostgreSQL behind nginx"
POOLED_FIGURE = f"{ARTICLE_FIGURE}, pooled"


def locust_polls(bench: ServerBench) -> None:
    article_polls(bench)
    _locust_scenario(
        bench,
        "locust-polls",
        "polls vote, SQLite",
        "polls.py",
        bench.settings.polls_steps,
        {"database": "SQLite", "proxy": "none", "setup": "ours, not the article's", **TASK},
    )


def connection_setups(bench: ServerBench) -> list[tuple[str, int | None]]:
    """(figure, pool max size or None for unpooled) of each setup this configuration runs."""
    setups: list[tuple[str, int | None]] = [(POOLED_FIGURE, polls_pool_size(bench.definition))]
    if runs_variant(bench.settings.polls_unpooled_servers, bench.definition.id):
        setups.append((ARTICLE_FIGURE, None))
    return setups


def article_polls(bench: ServerBench) -> None:
    """The article's stack: PostgreSQL started for this server (pinned with it, as the
    article's containers shared one machine), migrated and loaded in the server's own
    environment; a fresh server and nginx per run, for each connection setup."""
    settings = bench.settings
    params = {
        "database": "PostgreSQL",
        "proxy": "nginx: HTTP/1.1 from Locust, HTTP/1.1 to the server",
        "setup": "the article's: PostgreSQL, nginx in front",
        "nginx_version": nginx_version(),
        **TASK,
    }
    setups = connection_setups(bench)

    def described(max_size: int | None) -> dict:
        variant = {} if max_size is not None else {"variant": UNPOOLED_VARIANT}
        return {**params, **connection_params(max_size, POOL_TIMEOUT_S), **variant}

    measured: set[str] = set()
    try:
        with running_postgres(prefix=tuple(bench.pinning.server_prefix())) as postgres:
            prepare_database(bench.launcher, {"DATABASE_URL": postgres.url})
            params["database_server"] = postgres.as_record()
            for figure, max_size in setups:
                env = {"DATABASE_URL": postgres.url}
                if max_size is not None:
                    env.update(pooled_env(max_size, POOL_TIMEOUT_S))
                _locust_scenario(
                    bench,
                    "locust-polls",
                    figure,
                    "polls.py",
                    settings.polls_article_steps,
                    described(max_size),
                    ramp_s=settings.polls_article_ramp_s,
                    timeout_s=settings.polls_article_timeout_s,
                    repeats=settings.polls_article_repeats,
                    server_env=env,
                    behind_nginx=True,
                    extra_pids={"postgres": postgres.process.pid},
                )
                measured.add(figure)
    except (PostgresUnavailable, StartError) as error:
        reason = f"PostgreSQL could not be started: {error}"
        for figure, max_size in setups:
            if figure not in measured:
                bench.add(
                    failed_figure("locust-polls", figure, described(max_size), reason, "machine")
                )
    except PrepareError as error:
        reason = f"the PostgreSQL database could not be prepared: {error.reason}\n{error.log}"
        for figure, max_size in setups:
            if figure not in measured:
                bench.add(failed_figure("locust-polls", figure, described(max_size), reason[:2000]))
