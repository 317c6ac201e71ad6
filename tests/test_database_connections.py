"""The sample project's database connection settings against a real PostgreSQL: Django's
psycopg pool hands requests its few connections, persistent connections keep one, and the
unpooled default opens a new one (a new PostgreSQL backend) for every request."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from evidence.layout import REPO_ROOT
from harness import postgres
from harness.postgres import PostgresInstance

pytestmark = pytest.mark.skipif(
    postgres.find_bin_dir() is None, reason="PostgreSQL is not installed (postgresql-15)"
)
REQUESTS = 6

# Six requests one after another, each wrapped in the signals Django's handlers send around a
# request (request_finished is where Django closes a connection or returns it to the pool);
# prints the PostgreSQL backend that answered each.
PROBE = f"""
import json
import django
django.setup()
from django.core.signals import request_finished, request_started
from django.db import connection
backends = []
for _ in range({REQUESTS}):
    request_started.send(sender=None)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backends.append(cursor.fetchone()[0])
    request_finished.send(sender=None)
print(json.dumps(backends))
"""


def backends_of_requests(database: PostgresInstance, **variables: str) -> list[int]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DATABASE_", "SAMPLEPROJECT_"))
    }
    env.update(
        variables, DATABASE_URL=database.url, DJANGO_SETTINGS_MODULE="sampleproject.settings"
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO_ROOT / "sampleproject",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_without_a_pool_every_request_gets_a_new_backend(database) -> None:
    assert len(set(backends_of_requests(database))) == REQUESTS


def test_the_pool_serves_every_request_from_its_own_connections(database) -> None:
    assert len(set(backends_of_requests(database, DATABASE_POOL_MAX_SIZE="2"))) <= 2


def test_persistent_connections_keep_one_backend(database) -> None:
    assert len(set(backends_of_requests(database, DATABASE_CONN_MAX_AGE="60"))) == 1
