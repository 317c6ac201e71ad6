"""The sample project's setup that the benchmarks run, and its named variants: each as the
environment variables that choose it (``sampleproject/sampleproject/settings.py`` reads them)
and the parameters a figure stores, so a page says what a figure ran with from the figure.

- Middleware: Django's default stack with the static-files middleware (the production stack,
  what projects run), or none at all (the server's own cost apart from Django's). Static files
  through WhiteNoise under WSGI and ServeStatic under ASGI: WhiteNoise's middleware is sync-only,
  so under ASGI Django would hop to a thread for it on every request.
- Database (the polls reproduction): Django's psycopg pool, sized to the configuration's
  concurrency per worker process (``polls_pool_size``) with a timeout, or unpooled (a new
  connection, a new PostgreSQL backend, per request: the setup before pooling).
- Upstream client (the slow-upstream reproduction): a new httpx client per request (the
  article's code), or one per process.

The harness sets every variable explicitly, so a figure's parameters say what was set, not
what the sample project's defaults were when it ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

PRODUCTION = "production"
NO_MIDDLEWARE = "none"
MIDDLEWARE_STACKS = (PRODUCTION, NO_MIDDLEWARE)
# The static-files middleware of the production stack, per interface.
STATIC_MIDDLEWARE = {"wsgi": "whitenoise", "asgi": "servestatic"}
# The variant name a figure measured with no middleware carries (params "variant").
NO_MIDDLEWARE_VARIANT = "no middleware"

# psycopg_pool waits this long for a free connection before the request fails (PoolTimeout):
# the sample project's default too, set here so that the figure records it.
POOL_TIMEOUT_S = 10.0
# A configuration that declares no thread count serves requests on an event loop, greenlets or
# one sync worker: its concurrency per process is unbounded or one. Its pool is bounded here,
# well under PostgreSQL's max_connections (100) for a few worker processes, so that a burst
# waits for a connection instead of being refused by PostgreSQL.
POOL_SIZE_WITHOUT_THREADS = 10
UNPOOLED_VARIANT = "unpooled"

PER_REQUEST_CLIENT = "per-request"  # the article's code
SHARED_CLIENT = "shared"
UPSTREAM_CLIENTS = (PER_REQUEST_CLIENT, SHARED_CLIENT)
SHARED_CLIENT_VARIANT = "shared client"

# In a profile's list of configurations that run a variant: every configuration.
EVERY_CONFIGURATION = "*"


def middleware_env(stack: str, interface: str) -> dict[str, str]:
    """The variables that choose ``stack`` (and, for the production stack, the static-files
    middleware of the interface)."""
    if stack not in MIDDLEWARE_STACKS:
        raise ValueError(f"unknown middleware stack {stack!r}; known: {MIDDLEWARE_STACKS}")
    env = {"DJANGO_MIDDLEWARE_STACK": stack}
    if stack == PRODUCTION:
        env["DJANGO_STATIC_MIDDLEWARE"] = STATIC_MIDDLEWARE[interface]
    return env


def middleware_params(stack: str, interface: str) -> dict[str, Any]:
    """What a figure stores of its middleware stack."""
    static = STATIC_MIDDLEWARE[interface] if stack == PRODUCTION else None
    return {"middleware_stack": stack, "static_files_middleware": static}


def polls_pool_size(definition: Any) -> int:
    """The pool's max size per worker process: the configuration's production thread count
    (each thread holds at most one connection at a time), else ``POOL_SIZE_WITHOUT_THREADS``.

    ``production_threads`` is declared by the server definition (an int, or None when the
    configuration has no thread pool); a definition without it gets the fallback."""
    threads = getattr(definition, "production_threads", None)
    if isinstance(threads, int) and not isinstance(threads, bool) and threads > 0:
        return threads
    return POOL_SIZE_WITHOUT_THREADS


def pooled_env(max_size: int, timeout_s: float = POOL_TIMEOUT_S) -> dict[str, str]:
    return {"DATABASE_POOL_MAX_SIZE": str(max_size), "DATABASE_POOL_TIMEOUT": f"{timeout_s:g}"}


def connection_params(max_size: int | None, timeout_s: float = POOL_TIMEOUT_S) -> dict[str, Any]:
    """What a polls figure stores of its database connections (``max_size`` None: unpooled)."""
    if max_size is None:
        return {"connections": "unpooled"}
    return {"connections": "pooled", "pool_max_size": max_size, "pool_timeout_s": timeout_s}


def upstream_client_env(client: str) -> dict[str, str]:
    if client not in UPSTREAM_CLIENTS:
        raise ValueError(f"unknown upstream client {client!r}; known: {UPSTREAM_CLIENTS}")
    return {"UPSTREAM_CLIENT": client}


def runs_variant(configurations: Sequence[str], server_id: str) -> bool:
    """Whether a profile's list of configurations (``*``: every one) names ``server_id``."""
    return EVERY_CONFIGURATION in configurations or server_id in configurations
