"""The group name, request limits and failure findings that every development check uses."""

from __future__ import annotations

from harness.checks import CheckContext, Finding
from harness.process import StartError

GROUP = "Development"
REQUEST_TIMEOUT_S = 10.0
BODY_SAMPLE_CHARS = 300


def failure(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:300]


def needs_launcher(context: CheckContext) -> Finding | None:
    if context.launcher is None:
        return Finding("error", "The check could not start its own instance (no launcher).")
    return None


def start_failed(error: StartError, what: str) -> Finding:
    return Finding(
        "error",
        f"The server did not start {what}: {error.reason}"[:500],
        {"log_tail": error.log_tail},
    )
