"""The delayed-ACK stalls the dev-write-stall check measured, for the benchmark page whose
one-client figures they explain (runserver's 40-odd ms per request: Nagle's algorithm on its
small writes waiting for the client's delayed ACK). Read from the shown runs' evidence only."""

from __future__ import annotations

from typing import Any

CHECK_ID = "dev-write-stall"


def _explained(run: dict[str, Any], result: dict[str, Any]) -> dict[str, Any] | None:
    evidence = result.get("evidence") or {}
    settings = evidence.get("settings") or {}
    medians = {name: (settings.get(name) or {}).get("median_ms") for name in settings}
    if evidence.get("diagnosis") != "server-nagle" or None in medians.values():
        return None
    reads = (settings.get("plain") or {}).get("last_reads") or []
    held = None
    if len(reads) >= 2:
        held = {"first_bytes": reads[0]["bytes"], "after_ms": reads[1]["at_ms"] - reads[0]["at_ms"]}
    return {
        "server": run["server"],
        "machine": run["machine"],
        "capture": run["capture"],
        "requests": evidence.get("requests"),
        "plain_ms": medians.get("plain"),
        "nodelay_ms": medians.get("client-nodelay"),
        "quickack_ms": medians.get("client-quickack"),
        "held": held,
    }


def write_stalls(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per shown run whose check diagnosed the server's Nagle stall: its medians with the
    three clients, and how the last answer arrived; in matrix order."""
    stalls = []
    for run in runs:
        result = next((item for item in run["checks"] if item["id"] == CHECK_ID), None)
        explained = _explained(run, result) if result else None
        if explained:
            stalls.append(explained)
    return stalls
