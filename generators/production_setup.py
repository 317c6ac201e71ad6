"""What the methodology page says about the sample project's production middleware, from
``sampleproject/production_setup.toml`` (the facts, which a test compares with what Django
reads from each class) and the versions pinned in ``sampleproject/requirements.txt``. Both are
read as files: the site imports no Django."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from evidence.layout import REPO_ROOT

SETUP_FILE = REPO_ROOT / "sampleproject" / "production_setup.toml"
REQUIREMENTS_FILE = REPO_ROOT / "sampleproject" / "requirements.txt"
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)")


def pinned_versions(path: Path = REQUIREMENTS_FILE) -> dict[str, str]:
    """Lower-cased package name -> the version pinned for it."""
    versions = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line.strip())
        if match:
            versions[match[1].lower()] = match[2]
    return versions


def under_wsgi(entry: dict[str, Any]) -> str:
    """How Django's sync handler (WSGI) calls the middleware."""
    if entry["sync_capable"]:
        return "called in the request's thread"
    return (
        "async-only: Django runs it through async_to_sync (an event loop per request) and the "
        "middleware inside it back through sync_to_async"
    )


def under_asgi(entry: dict[str, Any]) -> str:
    """How Django's async handler (ASGI) calls the middleware."""
    if not entry["async_capable"]:
        return (
            "sync-only: Django runs it through sync_to_async (in a thread) and the middleware "
            "inside it back through async_to_sync"
        )
    hops = asgi_thread_hops(entry)
    if hops == 1:
        return f"{entry['hooks'][0]} through sync_to_async: 1 thread hop"
    if hops:
        return f"{', '.join(entry['hooks'])} each through sync_to_async: {hops} thread hops"
    return "awaited on the event loop: no thread"


def asgi_thread_hops(entry: dict[str, Any]) -> int:
    """Calls into a thread per request under ASGI: each hook of a MiddlewareMixin subclass
    (its __acall__ runs process_request and process_response through sync_to_async, and the
    handler adapts process_view the same way)."""
    return len(entry["hooks"]) if entry["async_capable"] and entry["mixin"] else 0


def middleware_rows(
    setup_file: Path = SETUP_FILE, requirements: Path = REQUIREMENTS_FILE
) -> list[dict[str, Any]]:
    """One row per middleware of the production stacks, top to bottom."""
    with setup_file.open("rb") as file:
        entries = tomllib.load(file)["middleware"]
    versions = pinned_versions(requirements)
    rows = []
    for entry in entries:
        package = entry["package"]
        rows.append(
            {
                "path": entry["path"],
                "name": entry["path"].rsplit(".", 1)[1],
                "package": f"{package} {versions.get(package.lower(), '(not pinned)')}",
                "sync_capable": entry["sync_capable"],
                "async_capable": entry["async_capable"],
                "interfaces": entry["interfaces"],
                "variant_for": entry.get("variant_for", []),
                "under_wsgi": under_wsgi(entry),
                "under_asgi": under_asgi(entry),
                "asgi_thread_hops": asgi_thread_hops(entry),
            }
        )
    return rows


def stack_thread_hops(rows: list[dict[str, Any]], interface: str = "asgi") -> int:
    """Thread hops per request through the interface's production stack on an async chain."""
    return sum(row["asgi_thread_hops"] for row in rows if interface in row["interfaces"])
