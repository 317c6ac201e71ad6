"""The ``locust-polls`` scenario: users voting in the polls app, in steps of users.

Two figures. The article's setup ("A Guide to ASGI in Django 3.0 and its Performance", March
2020): PostgreSQL, nginx in front of the server, users stepping 100 to 700, each step's ramp
left out and a steady part measured, Locust's own 60 s timeout so that failures are the
stack's (nginx's 502/504, refused connections), not the load tool's impatience. And ours:
SQLite, no proxy, short steps, labelled as ours.
"""

from __future__ import annotations

from harness.benchmarks.figures import failed_figure
from harness.benchmarks.nginx import nginx_version
from harness.benchmarks.scenarios.bench import ServerBench
from harness.benchmarks.scenarios.locust_common import _locust_scenario
from harness.postgres import PostgresUnavailable, running_postgres
from harness.prepared import PrepareError, prepare_database
from harness.process import StartError

TASK = {"wait_s": "between 1 and 2", "task": "GET vote form, POST vote"}
ARTICLE_FIGURE = "polls vote, PostgreSQL behind nginx"


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


def article_polls(bench: ServerBench) -> None:
    """The article's stack: PostgreSQL started for this server (pinned with it, as the
    article's containers shared one machine), migrated and loaded in the server's own
    environment; a fresh server and nginx per run."""
    settings = bench.settings
    params = {
        "database": "PostgreSQL",
        "proxy": "nginx: HTTP/1.1 from Locust, HTTP/1.1 to the server",
        "setup": "the article's: PostgreSQL, nginx in front",
        "nginx_version": nginx_version(),
        **TASK,
    }
    try:
        with running_postgres(prefix=tuple(bench.pinning.server_prefix())) as postgres:
            env = {"DATABASE_URL": postgres.url}
            prepare_database(bench.launcher, env)
            params["database_server"] = postgres.as_record()
            _locust_scenario(
                bench,
                "locust-polls",
                ARTICLE_FIGURE,
                "polls.py",
                settings.polls_article_steps,
                params,
                ramp_s=settings.polls_article_ramp_s,
                timeout_s=settings.polls_article_timeout_s,
                repeats=settings.polls_article_repeats,
                server_env=env,
                behind_nginx=True,
                extra_pids={"postgres": postgres.process.pid},
            )
    except (PostgresUnavailable, StartError) as error:
        reason = f"PostgreSQL could not be started: {error}"
        bench.add(failed_figure("locust-polls", ARTICLE_FIGURE, params, reason, "machine"))
    except PrepareError as error:
        reason = f"the PostgreSQL database could not be prepared: {error.reason}\n{error.log}"
        bench.add(failed_figure("locust-polls", ARTICLE_FIGURE, params, reason[:2000]))
