"""Streaming and events: do streamed responses and server-sent events reach the client live?

A ``StreamingHttpResponse`` is only as live as the server and Django's handler let it be: under
WSGI Django must consume an async iterator whole before sending it (and warns), under ASGI the
same holds for a sync iterator. These checks measure what a client sees: when each chunk or
event arrives, what Django logged meanwhile, and whether the server stops a stream whose
client has gone.

The sample views stamp each chunk and event when they produce it (``time.monotonic()`` for
chunks, ``time.time()`` for events). The harness runs on the same machine, so those stamps are
comparable with its own clocks and show whether a late chunk was produced late or held back.

One module per check: ``chunked`` (stream-sync, stream-async), ``sse``, ``sse_browser`` and
``sse_disconnect``; ``timing`` holds the streams they ask for and the live/buffered rule.
"""

from __future__ import annotations

from harness.checks.streaming import chunked, sse, sse_browser, sse_disconnect
from harness.checks.streaming._shared import GROUP

__all__ = ["CHECKS", "GROUP"]

CHECKS = [*chunked.CHECKS, sse.CHECK, sse_browser.CHECK, sse_disconnect.CHECK]
