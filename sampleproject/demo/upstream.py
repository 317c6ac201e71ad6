"""Calls to the slow "external API" (the upstream_api view, usually on another server).

The three aggregation views make the same three calls, one after another, in threads, or
concurrently on the event loop, following the article "Django sync or async, that's the
question" (2025).

Which httpx client makes them is settings.UPSTREAM_CLIENT: ``per-request`` builds one per
request (the article's code; each builds an SSL context and loads the CA bundle, which costs
CPU on every request), ``shared`` reuses one per process (and per event loop for async views).
"""

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
from django.conf import settings

# Delays asked of the upstream, in milliseconds: sequential calls take about their sum,
# parallel calls about their maximum.
UPSTREAM_DELAYS_MS = (300, 600, 150)

# Above the longest delay upstream_api accepts (10 s), so only a hung upstream times out.
UPSTREAM_TIMEOUT_SECONDS = 15.0


# The shared clients put no cap on connections, as separate per-request clients have none
# together: the variant differs from the article's code only in building the client once
# (httpx's default pool of 100 connections would queue calls at high load).
SHARED_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=None)

_shared_lock = threading.Lock()
_shared_client: httpx.Client | None = None
_shared_async_clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}


class UpstreamError(Exception):
    """The upstream could not be reached or did not answer with a country."""


def upstream_url(delay_ms: int) -> str:
    """The upstream_api URL for one call; UPSTREAM_BASE_URL is read now, not at import."""
    return f"{settings.UPSTREAM_BASE_URL.rstrip('/')}/upstream/api?delay_ms={delay_ms}"


def country_from(response: httpx.Response) -> str:
    """The country in an upstream response, or UpstreamError."""
    try:
        response.raise_for_status()
        return str(response.json()["country"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
        raise UpstreamError(f"{response.url}: {type(error).__name__}: {error}") from error


def fetch_country(client: httpx.Client, delay_ms: int) -> str:
    """One blocking call to the upstream."""
    url = upstream_url(delay_ms)
    try:
        response = client.get(url)
    except httpx.HTTPError as error:
        raise UpstreamError(f"{url}: {type(error).__name__}: {error}") from error
    return country_from(response)


async def afetch_country(client: httpx.AsyncClient, delay_ms: int) -> str:
    """One non-blocking call to the upstream."""
    url = upstream_url(delay_ms)
    try:
        response = await client.get(url)
    except httpx.HTTPError as error:
        raise UpstreamError(f"{url}: {type(error).__name__}: {error}") from error
    return country_from(response)


def shared_client() -> httpx.Client:
    """The process's one sync client, made at its first use. Made lazily so that a server
    which forks workers after importing the project gives each worker its own; httpx's Client
    may be used from several threads at once."""
    global _shared_client
    with _shared_lock:
        if _shared_client is None:
            _shared_client = httpx.Client(timeout=UPSTREAM_TIMEOUT_SECONDS, limits=SHARED_LIMITS)
        return _shared_client


def shared_async_client() -> httpx.AsyncClient:
    """The running event loop's one async client, made at its first use there.

    An AsyncClient's connections belong to the loop that opened them, so one client per
    process is only right while the process runs one loop. The ASGI servers here run one per
    worker process, but nothing promises it (a server may run a loop per thread, and each test
    runs its own), so the client is kept per loop. A closed loop's client is dropped unclosed:
    closing it would need that loop.
    """
    loop = asyncio.get_running_loop()
    with _shared_lock:
        client = _shared_async_clients.get(loop)
        if client is None:
            for closed in [old for old in _shared_async_clients if old.is_closed()]:
                del _shared_async_clients[closed]
            client = httpx.AsyncClient(timeout=UPSTREAM_TIMEOUT_SECONDS, limits=SHARED_LIMITS)
            _shared_async_clients[loop] = client
        return client


@contextmanager
def upstream_client() -> Iterator[httpx.Client]:
    """The client of one request: its own, closed after it, or the process's shared one."""
    if settings.UPSTREAM_CLIENT == "shared":
        yield shared_client()
        return
    with httpx.Client(timeout=UPSTREAM_TIMEOUT_SECONDS) as client:
        yield client


@asynccontextmanager
async def async_upstream_client() -> AsyncIterator[httpx.AsyncClient]:
    """The async client of one request: its own, closed after it, or the loop's shared one."""
    if settings.UPSTREAM_CLIENT == "shared":
        yield shared_async_client()
        return
    async with httpx.AsyncClient(timeout=UPSTREAM_TIMEOUT_SECONDS) as client:
        yield client
