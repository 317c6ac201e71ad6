"""The group name, evidence bounds and response helpers that several streaming checks share."""

from __future__ import annotations

import time
from typing import Any

import httpx

from harness.endpoints import SseIdiom

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


IDIOM_RULE = (
    "The stream is made the way the server's interface needs: under WSGI by a sync generator "
    "(/sse/sync), so each open stream holds a worker thread for as long as its client listens; "
    "under ASGI by an async generator (/sse), which waits on the event loop. Django buffers "
    "the other kind whole under each interface."
)


def idiom_sentence(idiom: SseIdiom, path: str, capacity: int | None, sizing: str) -> str:
    """What stream the check read and what it costs, for a verdict: under WSGI, with the
    configuration's declared capacity, how many streams fit at once."""
    sentence = (
        f"From a {idiom.generator} generator ({path}), the {idiom.interface.upper()} idiom: "
        f"{idiom.cost}."
    )
    if idiom.interface == "wsgi" and capacity is not None:
        sentence += (
            f" Sized as deployed ({sizing}), at most {capacity} streams are open at once, and "
            "while they are no other request is served."
        )
    elif idiom.interface == "wsgi":
        sentence += f" Sized as deployed ({sizing}): no thread bound declared."
    return sentence
