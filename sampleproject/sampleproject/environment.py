"""Reading the environment variables that select a settings variant (see settings.py)."""

import math
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
POSTGRES_SCHEMES = frozenset({"postgres", "postgresql"})
# psycopg_pool's own default wait for a connection (ConnectionPool(timeout=30.0)) is longer than
# a load test's request timeout; 10 s fails a starved request while the client still waits.
DEFAULT_POOL_TIMEOUT_S = 10.0


def env_flag(name: str) -> bool:
    """Whether the variable is set to 1/true/yes/on (any case); unset or anything else is off."""
    return os.environ.get(name, "").strip().lower() in TRUE_WORDS


def env_list(name: str) -> list[str]:
    """The non-empty items of a comma-separated variable, stripped."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def env_choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    """The variable's value, one of ``allowed`` (``default`` when unset or empty)."""
    value = os.environ.get(name, "").strip() or default
    if value not in allowed:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not one of the allowed values: {', '.join(allowed)}."
        )
    return value


def env_int(name: str, minimum: int) -> int | None:
    """The variable as a whole number of at least ``minimum``; None when unset or empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be a whole number >= {minimum}.")
    return value


def env_seconds(name: str) -> float | None:
    """The variable as a positive, finite number of seconds; None when unset or empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ImproperlyConfigured(f"{name}={raw!r} must be a positive number of seconds.")
    return value


def database_from_url(url: str) -> dict[str, object]:
    """A DATABASES entry for ``postgres://user:pass@host:port/name``.

    Parsed with urllib so that the sample project needs no URL-parsing dependency; user and
    password may be percent-encoded.
    """
    parts = urlsplit(url)
    if parts.scheme not in POSTGRES_SCHEMES:
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme {parts.scheme!r} is not supported; "
            f"use one of {sorted(POSTGRES_SCHEMES)} (or unset it for SQLite)."
        )
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured("DATABASE_URL has no database name after the host.")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


def sqlite_database(path: str | Path) -> dict[str, object]:
    """A DATABASES entry for an SQLite file."""
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": Path(path)}


def with_connection_handling(
    database: dict[str, object],
    pool_max_size: int | None,
    pool_timeout_s: float | None,
    conn_max_age: int | None,
    health_checks: bool = False,
) -> dict[str, object]:
    """``database`` with the connection handling the variables chose: Django's psycopg pool
    (DATABASE_POOL_MAX_SIZE, DATABASE_POOL_TIMEOUT), persistent connections
    (DATABASE_CONN_MAX_AGE), or neither (a connection per request, Django's default); with
    ``health_checks`` (DATABASE_HEALTH_CHECKS), Django's CONN_HEALTH_CHECKS, which for the pool
    is also what hands psycopg_pool a ``check`` (a connection the database ended is replaced
    before a request gets it, at one round trip per checkout)."""
    if health_checks:
        database = {**database, "CONN_HEALTH_CHECKS": True}
    if pool_max_size is not None and conn_max_age is not None:
        raise ImproperlyConfigured(
            "DATABASE_POOL_MAX_SIZE and DATABASE_CONN_MAX_AGE are both set: Django's pool needs "
            "CONN_MAX_AGE=0, so choose the pool or persistent connections, not both."
        )
    if pool_timeout_s is not None and pool_max_size is None:
        raise ImproperlyConfigured(
            "DATABASE_POOL_TIMEOUT is set but DATABASE_POOL_MAX_SIZE is not: the timeout is the "
            "pool's, and there is no pool without a size."
        )
    if pool_max_size is None:
        if conn_max_age is None:
            return database
        return {**database, "CONN_MAX_AGE": conn_max_age}
    if database["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            "DATABASE_POOL_MAX_SIZE needs DATABASE_URL (PostgreSQL): Django's connection pool "
            f"is psycopg's, and the database is {database['ENGINE']}."
        )
    pool = {
        # A fixed size: every connection is opened when the process first uses the pool, so
        # no measurement includes the pool growing (psycopg_pool grows one connection at a
        # time, only after a request has waited).
        "min_size": pool_max_size,
        "max_size": pool_max_size,
        # How long a request waits for a free connection before psycopg_pool raises
        # PoolTimeout (Django answers 500): a full pool queues requests, never errors at once.
        "timeout": pool_timeout_s if pool_timeout_s is not None else DEFAULT_POOL_TIMEOUT_S,
    }
    options = {**database.get("OPTIONS", {}), "pool": pool}  # type: ignore[dict-item]
    # Django refuses a pool with persistent connections: the pool keeps them instead.
    return {**database, "CONN_MAX_AGE": 0, "OPTIONS": options}
