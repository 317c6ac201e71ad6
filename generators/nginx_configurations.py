"""The nginx configurations the behind-nginx check runs, as the methodology page prints them:
read as a file from ``harness/checks/operations/nginx_configurations.toml``, the same file the
harness writes nginx.conf from (no harness code is imported), so the page shows what was run."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from evidence.layout import REPO_ROOT

CONFIGURATIONS_FILE = REPO_ROOT / "harness" / "checks" / "operations" / "nginx_configurations.toml"
SHOWN = ("id", "title", "summary", "http", "server")


def shown_configurations(path: Path = CONFIGURATIONS_FILE) -> list[dict[str, Any]]:
    """Each configuration's id, title, summary, docs links and the text of its http and server
    parts, in the file's order (stock first); the harness's tests keep the file well-formed."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    return [
        {key: str(table.get(key, "")).rstrip("\n") for key in SHOWN}
        | {"docs": [str(link) for link in table.get("docs", [])]}
        for table in raw.get("configurations", [])
    ]
