"""Database connections over time: does the server, running Django on PostgreSQL, keep its
connections bounded over many requests, and does it serve again once the database has ended
the connections it left idle?

Django closes or keeps each connection at ``request_started``/``request_finished``
(``close_old_connections``), on the thread that runs the signal; a connection belongs to the
thread that opened it. Under ASGI each request's sync code runs in a thread of the request's
own (``ThreadSensitiveContext``), so connections kept with ``CONN_MAX_AGE`` can outlive their
request: under Daphne, 100 requests left 40 connections open (gyrinx-app/gyrinx#2083). And a
kept connection that PostgreSQL ends for idling (``idle_session_timeout``) fails the next
request that uses it with a 500 (Datateknologerna-vid-Abo-Akademi/date-website#1153).

Four setups of the sample project, each on a server of its own: Django's psycopg pool (the
production setup), the pool with ``CONN_HEALTH_CHECKS``, persistent connections
(``CONN_MAX_AGE=60``) and a connection per request (``CONN_MAX_AGE=0``). Each gets a load, then
an idle period past the database's idle timeout, then more requests; PostgreSQL counts the
connections (``pg_activity``). The pool hands out a connection the database ended unless
``CONN_HEALTH_CHECKS`` is on, whatever the server: where the health-checked pool served every
request on the same server, the production setup's failures are Django's (``attribute``).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from harness.benchmarks.django_setup import POOL_TIMEOUT_S, polls_pool_size, pooled_env
from harness.checks import Check, CheckContext, Finding
from harness.checks.operations._shared import GROUP
from harness.checks.operations.pg_activity import (
    SAMPLE_EVERY_S,
    ActivityWatch,
    create_database,
    drop_database,
)
from harness.checks.operations.request_rounds import (
    RETRY_FAILED,
    RETRY_UNANSWERED,
    Round,
    send_round,
)
from harness.postgres import PostgresInstance, PostgresUnavailable, running_postgres
from harness.prepared import PrepareError, prepare_database
from harness.process import StartError

ENDPOINT = "polls_detail"  # the tutorial's detail page: a query for the question, sync view
CLIENTS = 20
LOAD_REQUESTS = 1000
SETTLE_S = 1.0  # after the load, before counting what is left
IDLE_TIMEOUT_S = 2.0
# Requests that let each connection the server keeps take the new timeout: PostgreSQL applies
# a reloaded setting at a connection's next command, not while it waits idle.
TAKE_UP_REQUESTS = 100
IDLE_MARGIN_S = 1.0
AFTER_IDLE_REQUESTS = 100
REQUEST_TIMEOUT_S = POOL_TIMEOUT_S + 5.0  # longer than a request may wait for the pool
ROUND_LIMIT_S = 120.0
PERSISTENT_MAX_AGE_S = 60
EXCEPTION_LINES_KEPT = 10
EXCEPTION_LINE_CHARS = 300
# The last line of a Python traceback: a dotted exception name, a colon, the message.
EXCEPTION_LINE = re.compile(r"^([a-z_]\w*(?:\.\w+)+): (.+)$", re.MULTILINE)

THRESHOLDS = (
    "Four setups of the sample project on PostgreSQL, each on a server of its own sized as "
    "deployed: Django's psycopg pool sized as the benchmarks run it (the production setup), "
    "the same pool with CONN_HEALTH_CHECKS (Django then gives the pool a check that replaces "
    "a connection the database ended before a request gets it), "
    f"persistent connections (CONN_MAX_AGE={PERSISTENT_MAX_AGE_S}) and a connection per "
    f"request (CONN_MAX_AGE=0). Each gets {LOAD_REQUESTS:,} GETs of the polls detail page "
    f"from {CLIENTS} keep-alive clients at once while pg_stat_activity is sampled every "
    f"{SAMPLE_EVERY_S:g} s (the peak: the most connections seen in two consecutive samples); "
    f"{SETTLE_S:g} s later the connections still open are counted. Then the database's "
    f"idle_session_timeout is set to {IDLE_TIMEOUT_S:g} s, {TAKE_UP_REQUESTS} requests let "
    "the connections the server keeps take it up (PostgreSQL applies a reloaded setting at a "
    f"connection's next command), the server idles {IDLE_TIMEOUT_S + IDLE_MARGIN_S:g} s, and "
    f"{AFTER_IDLE_REQUESTS} more requests follow, each one that fails sent again at once by "
    "its client. The bound: the worker processes times the pool's size; without a pool the "
    f"{CLIENTS} clients, or the capacity (workers x threads) where larger, since each thread "
    "may keep a connection. Per setup: yes = the peak and the connections left within the "
    "bound, and no failure; partial = some requests failed after the idle timeout, but no "
    "more failed attempts (retries included) than the connections the database ended by then "
    "(pg_stat_database's sessions_fatal: each ended connection fails one request, then the "
    "server opens another), or the peak above "
    "the bound and the connections left within it (the server closed the excess itself); no "
    "= more connections left than the bound (they grow with requests), a failure during the "
    "load (a request that got no answer at all, its kept-alive connection closed under it, is "
    "sent again at once, as browsers and proxies resend an idempotent request; only one that "
    "fails again, or any status other than 2xx, counts), or more failed attempts after the "
    "timeout than ended connections (the server "
    "keeps using a dead one). The outcome shown is the production setup's; the summary "
    "gives all four. A partial of the production setup whose only fault is failures on "
    "connections the database ended, where the pool with CONN_HEALTH_CHECKS served every "
    "request on the same server, is Django's (its pool checks a connection only with that "
    "setting), not the server's."
)


@dataclass(frozen=True)
class Setup:
    id: str
    label: str
    env: dict[str, str]
    bound: int
    bound_rule: str
    production: bool = False


def setups(context: CheckContext) -> list[Setup]:
    """The pool (production) first, the pool with health checks (the documented fix for
    connections a database or proxy ends while idle), then the two setups without a pool."""
    assert context.launcher is not None
    workers = context.launcher.workers()
    pool_size = polls_pool_size(context.server)
    capacity = context.capacity() or 0
    kept = max(CLIENTS, capacity)
    kept_rule = (
        f"capacity {context.capacity_text()}"
        if capacity > CLIENTS
        else f"{CLIENTS} clients at once"
    )
    return [
        Setup(
            "pool",
            f"Django's psycopg pool, {pool_size} connections per process",
            pooled_env(pool_size, POOL_TIMEOUT_S),
            workers * pool_size,
            f"{workers} worker{'s' if workers != 1 else ''} x a pool of {pool_size}",
            production=True,
        ),
        Setup(
            "pool-health-checks",
            f"Django's psycopg pool, {pool_size} connections per process, with CONN_HEALTH_CHECKS",
            {**pooled_env(pool_size, POOL_TIMEOUT_S), "DATABASE_HEALTH_CHECKS": "1"},
            workers * pool_size,
            f"{workers} worker{'s' if workers != 1 else ''} x a pool of {pool_size}",
        ),
        Setup(
            "conn-max-age-60",
            f"persistent connections, CONN_MAX_AGE={PERSISTENT_MAX_AGE_S}",
            {"DATABASE_CONN_MAX_AGE": str(PERSISTENT_MAX_AGE_S)},
            kept,
            kept_rule,
        ),
        Setup(
            "conn-max-age-0",
            "a connection per request, CONN_MAX_AGE=0",
            {"DATABASE_CONN_MAX_AGE": "0"},
            kept,
            kept_rule,
        ),
    ]


def exception_lines(log: str) -> dict[str, int]:
    """The distinct last lines of the tracebacks in a server log, with how often each came."""
    counts = Counter(
        f"{name}: {message}"[:EXCEPTION_LINE_CHARS] for name, message in EXCEPTION_LINE.findall(log)
    )
    return dict(counts.most_common(EXCEPTION_LINES_KEPT))


def _round(url: str, requests: int, retry: str) -> Round:
    return send_round(url, requests, CLIENTS, REQUEST_TIMEOUT_S, ROUND_LIMIT_S, retry)


def _failures(*rounds: Round) -> str:
    """What the requests of ``rounds`` that did not get a 2xx got, in words."""
    failing: Counter[str] = Counter()
    for round_ in rounds:
        failing.update({f"HTTP {s}": n for s, n in round_.statuses.items() if s[0] != "2"})
        failing.update(round_.errors)
        if round_.unsent:
            failing[f"not sent within {ROUND_LIMIT_S:g} s"] += round_.unsent
    return ", ".join(f"{what} x {n}" for what, n in sorted(failing.items()))


def _logged(record: dict[str, Any]) -> str:
    """The exception the server logged most, as a clause (empty when it logged none)."""
    lines = record["server_exceptions"]
    return f"; the server logged {next(iter(lines))!r}" if lines else ""


def failed_for_good(round_record: dict[str, Any]) -> int:
    """A round's requests that failed for good: answered with a status other than 2xx, not
    sent, or not answered and (where the round resent those) not answered when sent again.
    A round recorded before unanswered requests were resent counts every unanswered one."""
    answered_badly = sum(
        count for status, count in round_record["statuses"].items() if not status.startswith("2")
    )
    unanswered = sum(round_record["errors"].values())
    if round_record.get("retried"):
        unanswered = round_record["failed_again"]
    return answered_badly + unanswered + round_record.get("unsent", 0)


def resent_and_answered(round_record: dict[str, Any]) -> int:
    """Requests that got no answer, then an answer when sent again at once."""
    if not round_record.get("retried"):
        return 0
    return sum(round_record["errors"].values()) - round_record["failed_again"]


def judge_setup(record: dict[str, Any]) -> tuple[str, str]:
    """(outcome, one sentence) for one setup's measurements, by the rule in THRESHOLDS."""
    bound, peak, left = record["bound"], record["peak_connections"], record["left_after_load"]
    load, take_up, after = record["load"], record["take_up"], record["after_idle"]
    counts = (
        f"peak {peak}, {left} open after the load "
        f"({record['left_per_100_requests']:g} per 100 requests), "
        f"bound {bound} ({record['bound_rule']})"
    )
    sent_before = load["requests"] + take_up["requests"]
    failed_before = failed_for_good(load) + failed_for_good(take_up)
    resent = resent_and_answered(load) + resent_and_answered(take_up)
    before = (
        f"; {failed_before} of {sent_before:,} requests failed before the idle timeout "
        f"({record['failures_before_idle']}){_logged(record)}"
        if failed_before
        else ""
    )
    if resent:
        counts += (
            f"; {resent} request{'s' if resent != 1 else ''} got no answer on a kept-alive "
            "connection the server closed, and an answer when sent again (as a browser or "
            "proxy resends one)"
        )
    if not record["server_alive"]:
        return "no", f"the server exited during the check: {counts}{before}"
    if left > bound:
        return "no", f"connections grow with requests: {counts}{before}"
    if failed_before:
        return "no", f"{counts}{before}"
    # Every failed attempt, retries included: a server that drops a connection the database
    # ended fails one request on it; one that keeps it fails every request after.
    failed, ended = after["failed"] + after["failed_again"], record["ended_by_timeout"]
    attempts = (
        f"after the database ended {ended} idle connection{'s' if ended != 1 else ''}, "
        f"{after['failed']} of {after['requests']} requests failed "
        f"({record['failures_after_idle']}) and {after['failed_again']} of them again on "
        f"retry{_logged(record)}"
    )
    if failed > ended:
        return "no", f"{attempts}: more failures than ended connections; {counts}"
    if failed:
        return "partial", f"{attempts}: at most one failure per ended connection; {counts}"
    if peak > bound:
        return "partial", f"the peak passed the bound, then the server closed the excess: {counts}"
    return "yes", f"bounded, and no failure after the idle timeout: {counts}"


def measure_setup(
    context: CheckContext, cluster: PostgresInstance, database: str, setup: Setup
) -> dict[str, Any]:
    """One setup on a server of its own: load, idle past the timeout, load again."""
    assert context.launcher is not None
    env = {"DATABASE_URL": cluster.url_of(database), **setup.env}
    record: dict[str, Any] = {
        "setup": setup.id,
        "label": setup.label,
        "production": setup.production,
        "env": setup.env,
        "bound": setup.bound,
        "bound_rule": setup.bound_rule,
    }
    began = time.monotonic()
    with ActivityWatch(cluster, database) as watch:
        watch.set_idle_timeout(None)
        before = watch.session_totals()
        try:
            with context.launcher.launch("http", env=env) as instance:
                record["instance"] = instance.describe()
                record.update(_rounds(watch, instance.url(context.endpoints[ENDPOINT])))
                record["server_alive"] = instance.process.exit_code() is None
                record["server_exceptions"] = exception_lines(
                    instance.log_text()[instance.log_offset :]
                )
        finally:
            watch.set_idle_timeout(None)
        record["left_after_stop"] = watch.wait_until_gone()
        after = watch.session_totals()
    record["sessions"] = {name: after[name] - before[name] for name in after}
    record["took_s"] = round(time.monotonic() - began, 1)  # the server's start and stop included
    return record


def _rounds(watch: ActivityWatch, url: str) -> dict[str, Any]:
    with watch.sampled() as samples:
        # Before the idle timeout a request is resent only when it got no answer at all (its
        # kept-alive connection closed under it), as browsers and proxies resend one; a status
        # is the server's answer and stands.
        load = _round(url, LOAD_REQUESTS, RETRY_UNANSWERED)
        time.sleep(SETTLE_S)
    left = watch.by_state()
    ended_before = watch.session_totals()["sessions_fatal"]
    watch.set_idle_timeout(IDLE_TIMEOUT_S)
    take_up = _round(url, TAKE_UP_REQUESTS, RETRY_UNANSWERED)
    before_idle = watch.total()
    time.sleep(IDLE_TIMEOUT_S + IDLE_MARGIN_S)
    after_idle = watch.total()
    after = _round(url, AFTER_IDLE_REQUESTS, RETRY_FAILED)
    # Counted by PostgreSQL until the last request: a connection a worker left idle during
    # a round can be ended then too, and fail a request of the same round.
    ended = watch.session_totals()["sessions_fatal"] - ended_before
    left_total = sum(left.values())
    return {
        "load": load.as_record(),
        "peak_connections": samples.sustained_peak,
        "peak_single_sample": samples.peak,
        "peak_by_state": samples.peak_by_state,
        "timeline": samples.timeline(),
        "left_after_load": left_total,
        "left_by_state": left,
        "left_per_100_requests": round(100 * left_total / LOAD_REQUESTS, 1),
        "take_up": take_up.as_record(),
        "open_before_idle": before_idle,
        "open_after_idle": after_idle,
        "ended_by_timeout": ended,
        "after_idle": after.as_record(),
        "failures_before_idle": _failures(load, take_up),
        "failures_after_idle": _failures(after),
    }


@contextmanager
def _cluster(context: CheckContext) -> Iterator[tuple[PostgresInstance, str]]:
    """The capture's PostgreSQL when it started one, else one started for this check."""
    if context.database is not None:
        yield context.database, "shared by the capture's checks"
        return
    with running_postgres() as own:
        yield own, "started for this check"


def database_name(server_id: str) -> str:
    return "connections_" + re.sub(r"\W", "_", server_id)


def run(context: CheckContext) -> Finding:
    assert context.launcher is not None
    evidence: dict[str, Any] = {"endpoint": context.endpoints[ENDPOINT]}
    try:
        with _cluster(context) as (cluster, started):
            evidence["database_server"] = {**cluster.as_record(), "cluster": started}
            name = database_name(context.server.id)
            create_database(cluster, name)
            try:
                prepare_database(context.launcher, {"DATABASE_URL": cluster.url_of(name)})
                evidence["setups"] = [
                    _measured_or_failed(context, cluster, name, setup) for setup in setups(context)
                ]
            finally:
                drop_database(cluster, name)
    except (PostgresUnavailable, StartError) as error:
        return Finding("error", f"Not measured: PostgreSQL could not be started: {error}"[:2000])
    except PrepareError as error:
        return Finding(
            "error",
            f"Not measured: the database could not be prepared: {error.reason}"[:2000],
            {**evidence, "log": error.log},
        )
    outcome, summary = summarise(evidence["setups"])
    cause, detail = attribute(evidence["setups"])
    return Finding(outcome, summary, evidence, cause, detail)


def _measured_or_failed(
    context: CheckContext, cluster: PostgresInstance, database: str, setup: Setup
) -> dict[str, Any]:
    try:
        record = measure_setup(context, cluster, database, setup)
    except StartError as error:
        return {
            "setup": setup.id,
            "label": setup.label,
            "production": setup.production,
            "env": setup.env,
            "outcome": "error",
            "summary": f"the server did not start with this setup: {error.reason}"[:1000],
            "log_tail": error.log_tail or "",
        }
    record["outcome"], record["summary"] = judge_setup(record)
    return record


def summarise(records: list[dict[str, Any]]) -> tuple[str, str]:
    """The production setup's outcome, and a sentence per setup, production first."""
    production = next(record for record in records if record["production"])
    sentences = [
        f"{record['label'][0].upper()}{record['label'][1:]}"
        f"{' (the production setup)' if record['production'] else ''}: "
        f"{record['outcome']}, {record['summary']}."
        for record in records
    ]
    return production["outcome"], " ".join(sentences)


DJANGO_POOL_CHECK = (
    "Django's PostgreSQL backend gives its psycopg pool a check of each connection before it "
    "hands one to a request only when CONN_HEALTH_CHECKS is on (off by default; "
    "django/db/backends/postgresql/base.py), so without it a request gets a connection the "
    "database has ended and fails; with it, this same server answered every request"
)


def attribute(records: list[dict[str, Any]]) -> tuple[str, str]:
    """Whose behaviour decided the production setup's outcome: Django's when its only fault is
    requests failed on connections the database ended (one per ended connection) and the same
    server with CONN_HEALTH_CHECKS on served every request; the server's otherwise."""
    production = next(record for record in records if record["production"])
    checked = next((record for record in records if record["setup"] == "pool-health-checks"), None)
    only_ended_connections_failed = (
        production["outcome"] == "partial"
        and production.get("after_idle", {}).get("failed", 0) > 0
        and production.get("peak_connections", 0) <= production.get("bound", 0)
    )
    if only_ended_connections_failed and checked is not None and checked["outcome"] == "yes":
        return "django", DJANGO_POOL_CHECK
    return "server", ""


CHECKS = [
    Check(
        # Heavy: it loads both cores, and its turn is exclusive, so that no other server's
        # run meets the idle timeout it sets for the whole (shared) cluster.
        heavy=True,
        id="database-connections",
        title="Database connections over time",
        group=GROUP,
        question=(
            "Over a thousand requests on PostgreSQL, does the server keep Django's database "
            "connections bounded, and does it serve again once the database has ended the "
            "ones left idle?"
        ),
        thresholds=THRESHOLDS,
        run=run,
    ),
]

USES_DATABASE = frozenset(check.id for check in CHECKS)
