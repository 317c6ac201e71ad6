"""What the production-hazard checks share: their group name and the address they talk to."""

from __future__ import annotations

from harness.checks import CheckContext, Finding
from harness.checks.hazards.raw_http import Address

GROUP = "Production hazards"


def address(context: CheckContext) -> Address:
    """The shared plain-HTTP instance's host and port, for raw-socket requests."""
    return Address.of(context.shared.base_url)


def without_websockets(context: CheckContext) -> Finding | None:
    """The not-applicable finding of a WebSocket check on a WSGI server; None on ASGI."""
    if context.server.interface != "wsgi":
        return None
    return Finding(
        "not-applicable", "A WSGI server carries no WebSocket (see the WebSocket check)."
    )
