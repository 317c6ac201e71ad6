"""What changed between captures on the same machine: outcomes that flipped, server versions
that changed, servers and checks that appeared. The harness prints it after a capture and the
site's /changes/ page shows it; both call ``changes_in_capture``.

Runs from different machines are never compared: a different machine is a different experiment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Change:
    server: str
    kind: str  # "new-server", "version", "outcome", "new-check"
    check: str | None
    before: str | None
    after: str | None
    previous_capture: str | None

    def describe(self) -> str:
        if self.kind == "new-server":
            return f"{self.server}: first capture on this machine"
        if self.kind == "version":
            return f"{self.server}: version {self.before} -> {self.after}"
        if self.kind == "new-check":
            return f"{self.server} {self.check}: newly measured ({self.after})"
        return f"{self.server} {self.check}: {self.before} -> {self.after}"


def _previous(runs: list[dict[str, Any]], run: dict[str, Any]) -> dict[str, Any] | None:
    """The newest run of the same server on the same machine from an earlier capture."""
    earlier = [
        other
        for other in runs
        if other["machine"] == run["machine"]
        and other["server"]["id"] == run["server"]["id"]
        and other["capture"] < run["capture"]
    ]
    return max(earlier, key=lambda other: other["capture"], default=None)


def compare_runs(before: dict[str, Any] | None, after: dict[str, Any]) -> list[Change]:
    server = after["server"]["id"]
    if before is None:
        return [Change(server, "new-server", None, None, None, None)]
    previous = before["capture"]
    changes = []
    if before["server"]["version"] != after["server"]["version"]:
        changes.append(
            Change(
                server,
                "version",
                None,
                before["server"]["version"],
                after["server"]["version"],
                previous,
            )
        )
    old_outcomes = {check["id"]: check["outcome"] for check in before["checks"]}
    for check in after["checks"]:
        old = old_outcomes.get(check["id"])
        if old is None:
            changes.append(
                Change(server, "new-check", check["id"], None, check["outcome"], previous)
            )
        elif old != check["outcome"]:
            changes.append(Change(server, "outcome", check["id"], old, check["outcome"], previous))
    return changes


def changes_in_capture(runs: list[dict[str, Any]], machine: str, capture: str) -> list[Change]:
    """Every change that the runs of ``capture`` on ``machine`` bring, server by server."""
    changes = []
    for run in sorted(runs, key=lambda item: item["server"]["id"]):
        if run["machine"] == machine and run["capture"] == capture:
            changes.extend(compare_runs(_previous(runs, run), run))
    return changes


def captures(runs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(machine, capture) pairs, newest capture first."""
    return sorted(
        {(run["machine"], run["capture"]) for run in runs},
        key=lambda pair: (pair[1], pair[0]),
        reverse=True,
    )
