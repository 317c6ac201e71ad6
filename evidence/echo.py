"""What the sample project's echo views reported about a request, read one way by the harness
(when it judges a request-smuggling input) and by the generators (when they show an older run's
input, judged before each input's severity was recorded)."""

from __future__ import annotations

from typing import Any


def chunked_body_withheld(echo: dict[str, Any]) -> bool:
    """Django under WSGI reads a request body only up to CONTENT_LENGTH: a chunked body that
    the server passes without one reaches the view empty, before the server has read it. That
    is Django's reading, not the server's: a framing case does not hold it against the server
    (the expect-continue check reports it)."""
    headers = echo.get("headers", {})
    return (
        "HTTP_TRANSFER_ENCODING" in headers
        and "CONTENT_LENGTH" not in headers
        and echo.get("body_bytes") == 0
    )
