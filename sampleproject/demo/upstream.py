"""Calls to the slow "external API" (the upstream_api view, usually on another server).

The three aggregation views make the same three calls, one after another, in threads, or
concurrently on the event loop, following the article "Django sync or async, that's the
question" (2025).
"""

import httpx
from django.conf import settings

# Delays asked of the upstream, in milliseconds: sequential calls take about their sum,
# parallel calls about their maximum.
UPSTREAM_DELAYS_MS = (300, 600, 150)

# Above the longest delay upstream_api accepts (10 s), so only a hung upstream times out.
UPSTREAM_TIMEOUT_SECONDS = 15.0


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
