"""The requests the static-files check sends for one collected file, and what each got back:
the whole file, the same file when compression is accepted, a byte range, a range past its
end, a conditional request, and a short sequential batch against a tiny dynamic view for the
cost per request."""

from __future__ import annotations

import hashlib
import statistics
import time
from typing import Any

import httpx

REQUEST_TIMEOUT_S = 30.0
# The slice asked for: 4 KiB from the middle of the file, so a server that ignores the
# offset (or answers from the start) gives the wrong bytes.
RANGE_LENGTH = 4096
COST_REQUESTS = 200  # sequential requests per figure, on one kept-alive connection
COST_WARMUP = 5  # sent first and not counted: imports and caches of a cold worker
# The headers the site shows, and whose presence the verdict reads.
KEPT_HEADERS = (
    "content-type",
    "content-length",
    "content-encoding",
    "cache-control",
    "etag",
    "last-modified",
    "expires",
    "accept-ranges",
    "content-range",
    "vary",
    "referrer-policy",
)
# Django's SecurityMiddleware, which wraps the static-files middleware in the production stack,
# adds this header to every response it passes; a server's own static mount answers before
# Django and does not.
DJANGO_MARK = "referrer-policy"


def _headers(response: httpx.Response) -> dict[str, str]:
    return {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}


def _failure(error: Exception) -> dict[str, Any]:
    return {"status": None, "error": f"{type(error).__name__}: {error}"[:300]}


def media_type(content_type: str) -> str:
    """``text/css`` of ``text/css; charset="utf-8"``."""
    return content_type.split(";")[0].strip().lower()


def whole_file(client: httpx.Client, url: str, expected: bytes) -> dict[str, Any]:
    """The file with no compression accepted: is every byte right?"""
    try:
        response = client.get(url, headers={"Accept-Encoding": "identity"})
    except httpx.HTTPError as error:
        return _failure(error)
    body = response.content
    return {
        "status": response.status_code,
        "headers": _headers(response),
        "bytes": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "correct": response.status_code == 200 and body == expected,
        "served_by": "django" if DJANGO_MARK in response.headers else "server",
    }


def compressed_file(client: httpx.Client, url: str, expected: bytes) -> dict[str, Any]:
    """The file when gzip is accepted: compressed or not, does it decode to the same bytes?"""
    try:
        response = client.get(url, headers={"Accept-Encoding": "gzip"})
        body = response.content  # decoded by httpx
    except httpx.HTTPError as error:
        return _failure(error)
    return {
        "status": response.status_code,
        "content_encoding": response.headers.get("content-encoding"),
        "wire_bytes": response.num_bytes_downloaded,
        "correct": response.status_code == 200 and body == expected,
    }


def byte_range(client: httpx.Client, url: str, expected: bytes) -> dict[str, Any]:
    """A slice from the middle of the file: 206 with exactly those bytes?"""
    start = len(expected) // 2
    end = start + RANGE_LENGTH - 1
    asked = f"bytes={start}-{end}"
    try:
        response = client.get(url, headers={"Accept-Encoding": "identity", "Range": asked})
    except httpx.HTTPError as error:
        return {"range": asked, **_failure(error)}
    body = response.content
    return {
        "range": asked,
        "status": response.status_code,
        "content_range": response.headers.get("content-range"),
        "bytes": len(body),
        "correct": response.status_code == 206
        and body == expected[start : end + 1]
        and response.headers.get("content-range") == f"bytes {start}-{end}/{len(expected)}",
    }


def range_past_the_end(client: httpx.Client, url: str, size: int) -> dict[str, Any]:
    """A range that starts past the file's end: 416 Range Not Satisfiable?"""
    asked = f"bytes={size + 100}-{size + 200}"
    try:
        response = client.get(url, headers={"Accept-Encoding": "identity", "Range": asked})
    except httpx.HTTPError as error:
        return {"range": asked, **_failure(error)}
    return {
        "range": asked,
        "status": response.status_code,
        "content_range": response.headers.get("content-range"),
        "bytes": len(response.content),
        "correct": response.status_code == 416,
    }


def revalidation(client: httpx.Client, url: str, headers: dict[str, str]) -> dict[str, Any]:
    """The file again with the validator it came with: 304 Not Modified?"""
    conditional = {}
    if "etag" in headers:
        conditional["If-None-Match"] = headers["etag"]
    elif "last-modified" in headers:
        conditional["If-Modified-Since"] = headers["last-modified"]
    if not conditional:
        return {"sent": {}, "status": None, "not_modified": False}
    try:
        response = client.get(url, headers={"Accept-Encoding": "identity", **conditional})
    except httpx.HTTPError as error:
        return {"sent": conditional, **_failure(error), "not_modified": False}
    return {
        "sent": conditional,
        "status": response.status_code,
        "not_modified": response.status_code == 304,
    }


def _no_figure(url: str, requests: int, reason: str) -> dict[str, Any]:
    return {
        "url_path": httpx.URL(url).path,
        "requests": requests,
        "median_ms": None,
        "p90_ms": None,
        "reason": reason[:300],
    }


def cost_per_request(client: httpx.Client, url: str, requests: int) -> dict[str, Any]:
    """Median and 90th percentile milliseconds of ``requests`` sequential GETs of ``url``
    (after a short warm-up); null figures and the reason when any request failed."""
    timings = []
    try:
        for index in range(COST_WARMUP + requests):
            began = time.perf_counter()
            response = client.get(url, headers={"Accept-Encoding": "identity"})
            took = time.perf_counter() - began  # the body is read: the client is not streaming
            if response.status_code != 200:
                return _no_figure(url, requests, f"HTTP {response.status_code}")
            if index >= COST_WARMUP:
                timings.append(took * 1000)
    except httpx.HTTPError as error:
        return _no_figure(url, requests, f"{type(error).__name__}: {error}")
    return {
        "url_path": httpx.URL(url).path,
        "requests": requests,
        "median_ms": round(statistics.median(timings), 3),
        "p90_ms": round(statistics.quantiles(timings, n=10)[-1], 3),
        "reason": None,
    }


def probe(url: str, expected: bytes) -> dict[str, Any]:
    """Every correctness request for the file at ``url`` (``expected``: its bytes on disk)."""
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        whole = whole_file(client, url, expected)
        return {
            "whole": whole,
            "compressed": compressed_file(client, url, expected),
            "range": byte_range(client, url, expected),
            "range_past_end": range_past_the_end(client, url, len(expected)),
            "revalidation": revalidation(client, url, whole.get("headers", {})),
        }


def costs(static_url: str, dynamic_url: str, requests: int) -> dict[str, Any]:
    """The cost per request of the file and of the tiny dynamic view, one after the other on
    one connection each."""
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        static = cost_per_request(client, static_url, requests)
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        dynamic = cost_per_request(client, dynamic_url, requests)
    return {"static": static, "dynamic": dynamic}
