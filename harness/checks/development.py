"""Checks of this group are added by the behaviour-checks work (issue 3)."""

from __future__ import annotations

from harness.checks import Check

CHECKS: list[Check] = []
