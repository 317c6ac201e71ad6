"""The sample project's URL paths, read from the one file that lists them.

The harness never imports Django: it only needs to know where each view lives.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from evidence.layout import REPO_ROOT

SAMPLEPROJECT_DIR = REPO_ROOT / "sampleproject"
ENDPOINTS_FILE = SAMPLEPROJECT_DIR / "endpoints.toml"


def load_endpoints(path: Path = ENDPOINTS_FILE) -> dict[str, str]:
    """Every named path: Django views, WebSocket routes and static files, in one mapping."""
    with path.open("rb") as stream:
        tables = tomllib.load(stream)
    endpoints: dict[str, str] = {}
    for table in ("endpoints", "websocket_endpoints", "static_files", "collected_static_files"):
        endpoints.update(tables.get(table, {}))
    return endpoints


@dataclass(frozen=True)
class SseIdiom:
    """How the sample project streams server-sent events under one interface.

    Django serves a stream only from the generator its handler iterates natively (sync under
    WSGI, async under ASGI) and buffers the other kind whole, so each interface has its idiom,
    with its own cost per open stream.
    """

    interface: str
    endpoint: str  # its name in endpoints.toml
    generator: str  # "sync" | "async"
    holds_worker_thread: bool
    cost: str  # what one open stream costs the server, in words

    def as_record(self) -> dict[str, object]:
        return {
            "interface": self.interface,
            "endpoint": self.endpoint,
            "generator": self.generator,
            "holds_worker_thread": self.holds_worker_thread,
            "cost": self.cost,
        }


SSE_IDIOMS = {
    "wsgi": SseIdiom(
        interface="wsgi",
        endpoint="sse_sync",
        generator="sync",
        holds_worker_thread=True,
        cost="each stream holds a worker thread for as long as its client listens",
    ),
    "asgi": SseIdiom(
        interface="asgi",
        endpoint="sse",
        generator="async",
        holds_worker_thread=False,
        cost="each stream waits on the event loop and holds no thread",
    ),
}


def sse_idiom(interface: str) -> SseIdiom:
    """The SSE idiom of a server's interface ("wsgi" or "asgi")."""
    try:
        return SSE_IDIOMS[interface]
    except KeyError:
        raise ValueError(
            f"no SSE idiom for interface {interface!r}; known: {', '.join(SSE_IDIOMS)}"
        ) from None
