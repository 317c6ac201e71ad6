"""Each server page's raw evidence, in a JSON file of its own beside the page.

The evidence of some fifty checks, each with its options, is most of a megabyte per server; in
the page it buried the command a reader came for. The page keeps each check's outcome and
summary and a folded "Evidence" box that ``docs/javascripts/evidence.js`` fills from this file
when it is opened (without JavaScript the box links the file). The file holds exactly what the
page printed before: each check's evidence, each option's, the start-up log and the provenance.
"""

from __future__ import annotations

import json
from typing import Any

from evidence.schema import SCHEMA_VERSION


def evidence_file(server_id: str) -> str:
    """Where a server's evidence lies in the site, beside ``servers/<id>.md``."""
    return f"servers/evidence/{server_id}.json"


def evidence_document(run: dict[str, Any], source: str) -> dict[str, Any]:
    """``run``'s evidence by check id (the same keys the page's boxes name), then provenance."""
    return {
        "schema_version": SCHEMA_VERSION,
        "server": run["server"]["id"],
        "source": f"data/{source}",
        "checks": {
            result["id"]: {
                "evidence": result["evidence"],
                # In the page's order, so a box names its option by position.
                "options": [
                    {"label": option["label"], "evidence": option["evidence"]}
                    for option in result.get("options") or []
                ],
            }
            for result in run["checks"]
        },
        "startup_log_tail": run["startup"].get("log_tail"),
        "provenance": run["provenance"],
    }


def evidence_files(runs: list[dict[str, Any]], sources: dict[str, str]) -> dict[str, str]:
    """{site path: JSON text} for every shown server (compact: only the page's script and a
    reader who downloads it read it, and indentation doubles its size)."""
    return {
        evidence_file(run["server"]["id"]): json.dumps(
            evidence_document(run, sources[run["server"]["id"]]),
            separators=(",", ":"),
            sort_keys=True,
        )
        + "\n"
        for run in runs
    }
