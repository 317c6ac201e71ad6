"""The group name, evidence bounds and response helpers that several streaming checks share."""

from __future__ import annotations

import time
from typing import Any

import httpx

GROUP = "Streaming and events"

# Evidence bounds
MAX_KEPT_EVENTS = 100
LOG_EXCERPT_CHARS = 3000
DATA_CHARS = 300


def problem(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:300]


def response_facts(response: httpx.Response, origin: float) -> dict[str, Any]:
    headers = response.headers
    return {
        "status": response.status_code,
        "http_version": response.http_version,
        "headers_s": time.monotonic() - origin,
        "content_type": headers.get("content-type"),
        "transfer_encoding": headers.get("transfer-encoding"),
        "content_length": headers.get("content-length"),
        "headers": dict(list(headers.items())[:30]),
    }
