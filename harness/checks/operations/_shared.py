"""What the operations checks share: their group name."""

from __future__ import annotations

GROUP = "Operations"
