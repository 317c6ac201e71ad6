"""The sample project's URL paths, read from the one file that lists them.

The harness never imports Django: it only needs to know where each view lives.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from evidence.layout import REPO_ROOT

SAMPLEPROJECT_DIR = REPO_ROOT / "sampleproject"
ENDPOINTS_FILE = SAMPLEPROJECT_DIR / "endpoints.toml"


def load_endpoints(path: Path = ENDPOINTS_FILE) -> dict[str, str]:
    """Every named path: Django views, WebSocket routes and static files, in one mapping."""
    with path.open("rb") as stream:
        tables = tomllib.load(stream)
    endpoints: dict[str, str] = {}
    for table in ("endpoints", "websocket_endpoints", "static_files"):
        endpoints.update(tables.get(table, {}))
    return endpoints
