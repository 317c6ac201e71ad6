"""A slow "external API" and three views that aggregate three calls to it.

Each view gets its httpx client from demo/upstream.py: a new one per request (the article's
code, the default) or the process's shared one (UPSTREAM_CLIENT=shared).

Which aggregation finishes in about max(delays) rather than their sum, and how many of them a
server can run at once, is what the harness compares across servers.
"""

import asyncio
import random
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from django.http import HttpRequest, JsonResponse

from demo.query import BadQuery, bad_request, bounded_int
from demo.upstream import (
    UPSTREAM_DELAYS_MS,
    UpstreamError,
    afetch_country,
    async_upstream_client,
    fetch_country,
    upstream_client,
)

MAX_UPSTREAM_DELAY_MS = 10_000
COUNTRIES = ("Argentina", "Brazil", "Canada", "Denmark", "Egypt", "France", "Ghana", "Japan")


async def upstream_api(request: HttpRequest) -> JsonResponse:
    """Answers a country after ``?delay_ms=`` (0..10000, default 300) without blocking."""
    try:
        delay_ms = bounded_int(request, "delay_ms", default=300, low=0, high=MAX_UPSTREAM_DELAY_MS)
    except BadQuery as error:
        return bad_request(error)
    await asyncio.sleep(delay_ms / 1000)
    # Sample data, not security: the standard generator is the right one.
    country = random.choice(COUNTRIES)  # noqa: S311
    return JsonResponse({"country": country, "delay_ms": delay_ms})


def aggregated(countries: list[str], started: float, mode: str) -> JsonResponse:
    """The response of an aggregation view."""
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    return JsonResponse(
        {
            "countries": countries,
            "delays_ms": list(UPSTREAM_DELAYS_MS),
            "elapsed_ms": elapsed_ms,
            "mode": mode,
        }
    )


def upstream_failed(error: UpstreamError, mode: str) -> JsonResponse:
    """A 502 that says what went wrong upstream."""
    return JsonResponse({"error": str(error), "mode": mode}, status=502)


def upstream_sequential(request: HttpRequest) -> JsonResponse:
    """Three blocking calls, one after another: takes about the sum of the delays."""
    started = time.perf_counter()
    try:
        with upstream_client() as client:
            countries = [fetch_country(client, delay_ms) for delay_ms in UPSTREAM_DELAYS_MS]
    except UpstreamError as error:
        return upstream_failed(error, "sequential")
    return aggregated(countries, started, "sequential")


def upstream_threadpool(request: HttpRequest) -> JsonResponse:
    """Three blocking calls in three threads: about the longest delay, at three threads' cost."""
    started = time.perf_counter()
    try:
        # One client for the three threads: its connection pool is thread-safe. The pool is
        # left (waiting for every call) before a per-request client is closed.
        with (
            upstream_client() as client,
            ThreadPoolExecutor(max_workers=len(UPSTREAM_DELAYS_MS)) as pool,
        ):
            countries = list(pool.map(partial(fetch_country, client), UPSTREAM_DELAYS_MS))
    except UpstreamError as error:
        return upstream_failed(error, "threadpool")
    return aggregated(countries, started, "threadpool")


async def upstream_async(request: HttpRequest) -> JsonResponse:
    """Three concurrent calls on the event loop: about the longest delay, no threads."""
    started = time.perf_counter()
    try:
        async with async_upstream_client() as client:
            # return_exceptions so every call has ended before a per-request client closes.
            results = await asyncio.gather(
                *(afetch_country(client, delay_ms) for delay_ms in UPSTREAM_DELAYS_MS),
                return_exceptions=True,
            )
        for result in results:
            if isinstance(result, BaseException):
                raise result
    except UpstreamError as error:
        return upstream_failed(error, "async")
    return aggregated(list(results), started, "async")
