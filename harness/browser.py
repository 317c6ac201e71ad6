"""Debian's Chromium, headless, driven by Playwright's Python package (no browser download).

Chromium on this kind of machine tries to reach Google's services at startup (component
updates, sync, QUIC probes) and has no GPU or user namespaces; the flags below switch all of
that off, and every launch gets a fresh, throwaway profile so no state carries between checks.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

CHROMIUM_PATH = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",  # the harness may run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
LAUNCH_TIMEOUT_S = 30.0


class BrowserUnavailable(Exception):
    """Chromium or Playwright is missing, or Chromium would not start; the message says which."""


def unavailable_reason() -> str | None:
    """Why a browser cannot be used here, or None when Chromium and Playwright are present."""
    if not CHROMIUM_PATH.exists():
        return f"Chromium is not installed at {CHROMIUM_PATH} (Debian package: chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (requirements/harness.txt)"
    return None


@contextmanager
def headless_chromium() -> Iterator[BrowserContext]:
    """A browser context of a freshly launched headless Chromium, closed afterwards.

    Must be called outside a running asyncio event loop (Playwright's sync API).
    """
    reason = unavailable_reason()
    if reason:
        raise BrowserUnavailable(reason)
    from playwright.sync_api import Error, sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="serving-django-chromium-") as profile,
        sync_playwright() as playwright,
    ):
        try:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM_PATH),
                headless=True,
                args=list(CHROMIUM_ARGS),
                timeout=LAUNCH_TIMEOUT_S * 1000,
            )
        except Error as error:
            raise BrowserUnavailable(f"Chromium did not start: {error}"[:1000]) from error
        try:
            yield context
        finally:
            context.close()
