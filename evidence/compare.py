"""What changed between captures on the same machine: outcomes that flipped, server versions
that changed, servers and checks that appeared, benchmark figures that failed or recovered, and
benchmark medians that moved beyond their measured spread. The harness prints it after a
capture and the site's /changes/ page shows it; both call ``changes_in_capture`` (and
``benchmark_changes``).

Which benchmark metrics are compared is the registry's ``compared`` field (``evidence.metrics``).
Runs from different machines are never compared: a different machine is a different experiment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evidence.metrics import compared
from evidence.setups import describe_run_setup, figure_setup_differences, run_setup_differs


@dataclass(frozen=True)
class Change:
    server: str
    # "new-server", "version", "setup", "outcome", "new-check", "benchmark", "benchmark-status",
    # "benchmark-setup" (a figure measured on another setup: its numbers are not compared)
    kind: str
    check: str | None
    before: str | None
    after: str | None
    previous_capture: str | None

    def describe(self) -> str:
        if self.kind == "new-server":
            return f"{self.server}: first capture on this machine"
        if self.kind == "version":
            return f"{self.server}: version {self.before} -> {self.after}"
        if self.kind in ("setup", "benchmark-setup"):
            where = f" {self.check}" if self.check else ""
            return f"{self.server}{where}: another setup, {self.before} -> {self.after}"
        if self.kind == "new-check":
            return f"{self.server} {self.check}: newly measured ({self.after})"
        if self.kind == "benchmark":
            moved = f"{self.before} -> {self.after}"
            return f"{self.server} {self.check}: moved beyond its spread, {moved}"
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
    if run_setup_differs(before, after):
        # Outcomes still flip and are listed, but under this line: they compare two setups.
        changes.append(
            Change(
                server,
                "setup",
                None,
                describe_run_setup(before),
                describe_run_setup(after),
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


def _spread_text(spread: dict[str, Any]) -> str:
    return f"{spread['median']:.4g} ({spread['min']:.4g}-{spread['max']:.4g})"


def moved_beyond_spread(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Each median lies outside the other capture's min-max range: more than noise."""
    return not before["min"] <= after["median"] <= before["max"] and not (
        after["min"] <= before["median"] <= after["max"]
    )


def compare_benchmarks(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    server, previous = after["server"]["id"], before["capture"]
    old = {(f["scenario"], f["figure"]): f for f in before["results"]}
    changes = []
    for figure in after["results"]:
        name = f"{figure['scenario']} / {figure['figure']}"
        earlier = old.get((figure["scenario"], figure["figure"]))
        if earlier is None:
            continue
        differences = figure_setup_differences(earlier.get("params"), figure.get("params"))
        if differences:
            changes.append(
                Change(
                    server,
                    "benchmark-setup",
                    name,
                    ", ".join(differences),
                    "not compared",
                    previous,
                )
            )
            continue
        if earlier["status"] != figure["status"]:
            changes.append(
                Change(
                    server, "benchmark-status", name, earlier["status"], figure["status"], previous
                )
            )
            continue
        for metric in (one.name for one in compared()):
            a, b = earlier["spread"].get(metric), figure["spread"].get(metric)
            if a and b and moved_beyond_spread(a, b):
                changes.append(
                    Change(
                        server,
                        "benchmark",
                        f"{name} {metric}",
                        _spread_text(a),
                        _spread_text(b),
                        previous,
                    )
                )
    return changes


def benchmark_changes(documents: list[dict[str, Any]], machine: str, capture: str) -> list[Change]:
    """Benchmark changes of ``capture`` on ``machine`` against each server's previous capture
    there (calibration included: a slower tool changes every headroom)."""
    changes = []
    for document in sorted(documents, key=lambda item: item["server"]["id"]):
        if document["machine"] == machine and document["capture"] == capture:
            previous = _previous(documents, document)
            if previous is not None:
                changes.extend(compare_benchmarks(previous, document))
    return changes
