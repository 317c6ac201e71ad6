"""What the production-hazard checks share: their group name and the address they talk to."""

from __future__ import annotations

from harness.checks import CheckContext
from harness.checks.hazards.raw_http import Address

GROUP = "Production hazards"


def address(context: CheckContext) -> Address:
    """The shared plain-HTTP instance's host and port, for raw-socket requests."""
    return Address.of(context.shared.base_url)
