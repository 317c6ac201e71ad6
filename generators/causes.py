"""Whose behaviour decided an outcome, as the pages show it.

A check records, on a no or partial, whether the server decided it or Django's own handler did
(or the sample project's idiom: ``evidence.vocabulary.CAUSES``). A result that is not the
server's is shown as Django's (or the project's), in a neutral style, never as the server's
failure; the matrix shows Django's part once per interface (``django_parts``), and the
recommendations and pick-by-need rules do not hold it against the server. Files written before
December 2026 have no cause: their outcomes show, and count, as they always did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Icon (a Material shortcode) and label of an outcome decided by someone else than the server.
CAUSE_LABELS = {
    "django": (":simple-django:{ .sd-cause }", "Django"),
    "project": (":material-flask-outline:{ .sd-cause }", "our setup"),
    # The check could not tell the server's part from Django's and the views' (they run in
    # the same process): shown apart and not held against the server, but owned by nobody.
    "undetermined": (":material-help-circle-outline:{ .sd-cause }", "cause not told apart"),
}
# Who "Django" is under each interface, for the matrix's rows.
HANDLERS = {"wsgi": "Django's WSGI handler", "asgi": "Django's ASGI handler"}


def decided_by(result: dict[str, Any]) -> str | None:
    """Who other than the server decided this result ("django" or "project"), or
    "undetermined" when the check could not tell; None when the server did, or the file does
    not say."""
    cause = result.get("cause")
    if cause == "project" and (result.get("evidence") or {}).get("cause") == "undetermined":
        # Memory-soak files written before "undetermined" was a cause of its own stored it as
        # the project's, and said "undetermined" in their evidence: read them as they said.
        return "undetermined"
    return cause if cause in CAUSE_LABELS else None


def not_the_servers(cause: str, outcome_label: str) -> str:
    """How a page says whose an outcome is, beside it: "Django's partial, not the server's"."""
    if cause == "undetermined":
        return f"{outcome_label}, cause not told apart, not held against the server"
    return f"{CAUSE_LABELS[cause][1]}'s {outcome_label}, not the server's"


def decided_by_said(cause: str) -> str:
    """The lead-in of a cause's detail: "Decided by Django" (the detail follows)."""
    if cause == "undetermined":
        return "Not told apart from the server's own part"
    return f"Decided by {CAUSE_LABELS[cause][1]}, not by this server"


def counts_for_server(result: dict[str, Any]) -> bool:
    """Whether a rule may judge the server by this result: not when Django or the project
    decided it, since every server of the interface would get the same, nor when the check
    could not tell the server's part from theirs."""
    return decided_by(result) is None


@dataclass(frozen=True)
class HandlerPart:
    """What Django decided for one check under one interface."""

    interface: str
    check_id: str
    title: str
    outcome: str  # the outcome the Django-decided results share (the worst, if they differ)
    detail: str  # why, naming Django's code: the one sentence the checks recorded
    servers: tuple[str, ...]  # names of the configurations whose result Django decided
    of: int  # configurations of this interface that measured the check

    @property
    def handler(self) -> str:
        return HANDLERS.get(self.interface, f"Django ({self.interface})")


_WORST_FIRST = ("no", "partial")


def django_parts(
    runs: list[dict[str, Any]], checks: list[dict[str, Any]]
) -> dict[str, dict[str, HandlerPart]]:
    """interface -> check id -> Django's part, for the checks where some result of that
    interface was decided by Django; interfaces in matrix order. (A result the project decided
    shows in its own cell only: it is this harness's choice, not a handler's.)"""
    parts: dict[str, dict[str, HandlerPart]] = {}
    for interface in HANDLERS:
        shown = [run for run in runs if run["server"]["interface"] == interface]
        for check in checks:
            results = [
                (run, result)
                for run in shown
                for result in run["checks"]
                if result["id"] == check["id"]
            ]
            decided = [(run, result) for run, result in results if decided_by(result) == "django"]
            if not decided:
                continue
            outcomes = {result["outcome"] for _, result in decided}
            details = sorted({result.get("cause_detail") or "" for _, result in decided})
            parts.setdefault(interface, {})[check["id"]] = HandlerPart(
                interface=interface,
                check_id=check["id"],
                title=check["title"],
                outcome=next(o for o in (*_WORST_FIRST, *sorted(outcomes)) if o in outcomes),
                detail=" ".join(detail for detail in details if detail),
                servers=tuple(run["server"]["name"] for run, _ in decided),
                of=len(results),
            )
    return parts


def glance_counts(run: dict[str, Any]) -> dict[str, int]:
    """A run's outcomes counted for the home page: the server's own, and those decided by
    Django or the project apart (``decided``)."""
    counts = {"yes": 0, "partial": 0, "no": 0, "not-applicable": 0, "error": 0, "decided": 0}
    for result in run["checks"]:
        counts["decided" if decided_by(result) else result["outcome"]] += 1
    return counts
