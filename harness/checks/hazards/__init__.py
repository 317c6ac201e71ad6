"""Production hazards at the HTTP layer: what a server does with requests that are malformed,
ambiguous, huge, slow or forwarded, sent as exact bytes over raw sockets."""

from harness.checks.hazards import (
    body_limit,
    forwarded_headers,
    head_request,
    header_limits,
    header_underscores,
    http2_frames,
    keepalive_idle,
    overload,
    request_bodies,
    root_path,
    slow_client,
    smuggling,
    websocket_conformance,
    websocket_limits,
)

CHECKS = [
    *smuggling.CHECKS,
    *header_limits.CHECKS,
    *body_limit.CHECKS,
    *request_bodies.CHECKS,
    *head_request.CHECKS,
    *forwarded_headers.CHECKS,
    *header_underscores.CHECKS,
    *root_path.CHECKS,
    *keepalive_idle.CHECKS,
    *slow_client.CHECKS,
    *overload.CHECKS,
    *websocket_limits.CHECKS,
    *websocket_conformance.CHECKS,
    *http2_frames.CHECKS,
]
