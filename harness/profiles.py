"""How long and how often to measure: quick (CI smoke), standard (the default), full."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    repeats: int  # batches per figure; the median is reported, every repeat is kept
    start_timeout_s: float
    stop_grace_s: float


PROFILES = {
    "quick": Profile("quick", repeats=1, start_timeout_s=60, stop_grace_s=10),
    "standard": Profile("standard", repeats=3, start_timeout_s=60, stop_grace_s=10),
    "full": Profile("full", repeats=5, start_timeout_s=120, stop_grace_s=30),
}
