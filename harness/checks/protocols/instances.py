"""Starting the variant of the server a check needs (tls, http2_tls, h2c) and reading its log."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from harness.checks import CheckContext, Finding
from harness.checks.protocols._shared import OUTPUT_LIMIT
from harness.launcher import Instance
from harness.process import StartError


def first_declared(context: CheckContext, kinds: tuple[str, ...]) -> str | None:
    """The first of ``kinds`` the definition declares (``http`` is always the shared one)."""
    for kind in kinds:
        if kind == "http" or (context.launcher is not None and context.launcher.supports(kind)):
            return kind
    return None


@contextmanager
def running(context: CheckContext, kind: str) -> Iterator[Instance]:
    """The shared instance for ``http``; otherwise a fresh one, stopped on leaving."""
    if kind == "http":
        yield context.shared
        return
    if context.launcher is None:
        raise RuntimeError("this check starts its own server, but no launcher was given")
    with context.launcher.launch(kind) as instance:
        yield instance


def did_not_start(kind: str, error: StartError) -> Finding:
    """A declared variant that never became ready: the check could not measure."""
    return Finding(
        "error",
        f"The server's {kind} command did not become ready: {error.reason}"[:500],
        {"kind": kind, "start_error": error.reason, "log_tail": error.log_tail[-OUTPUT_LIMIT:]},
    )


def log_since(instance: Instance, mark: int) -> str:
    """What the server logged after ``mark`` (a length of its log), truncated."""
    return instance.log_text()[mark:][-OUTPUT_LIMIT:]


def tls_context(instance: Instance) -> ssl.SSLContext:
    """A fresh context trusting the run's CA (httpcore sets ALPN on it, so never reuse one)."""
    return instance.tls.client_context()
