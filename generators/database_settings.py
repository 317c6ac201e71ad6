"""Django's own database settings, as the database-connections check measured them on every
configuration: which setting held (bounded connections, no failed request), which lost requests
once PostgreSQL ended idle connections, and which let connections grow past their bound. The
recommendations page shows the tally, so that "configured how" covers Django's settings, not
only the server's command.

Evidence is untrusted: a setup whose record is not a mapping with an id and an outcome is left
out, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

CHECK_ID = "database-connections"
# The pool's size is each configuration's own (its workers and threads), and is in the label.
POOL_SIZE = re.compile(r"(\d+) connections per process")


@dataclass
class SettingTally:
    """One Django database setting across the configurations that measured it (their names)."""

    setup: str
    label: str  # the label of the first configuration's record; sizes are in ``sizes``
    sizes: set[int] = field(default_factory=set)  # pool sizes per process, where it has one
    held: list[str] = field(default_factory=list)  # yes: bounded, nothing failed
    failed_after_idle: list[str] = field(default_factory=list)  # lost requests to ended ones
    grew: list[str] = field(default_factory=list)  # connections left past the bound
    other: list[str] = field(default_factory=list)  # any other outcome (a failure under load)

    @property
    def shown_label(self) -> str:
        """The label, with the pool's size given as the range the configurations used."""
        if len(self.sizes) < 2:
            return self.label
        low, high = min(self.sizes), max(self.sizes)
        return POOL_SIZE.sub(f"{low} to {high} connections per process", self.label)

    @property
    def measured(self) -> int:
        return len(self.held) + len(self.failed_after_idle) + len(self.grew) + len(self.other)


def _failed_after_idle(setup: dict[str, Any]) -> bool:
    after = setup.get("after_idle")
    return isinstance(after, dict) and isinstance(after.get("failed"), int) and after["failed"] > 0


def _grew(setup: dict[str, Any]) -> bool:
    left, bound = setup.get("left_after_load"), setup.get("bound")
    return isinstance(left, int) and isinstance(bound, int) and left > bound


def database_settings(runs: list[dict[str, Any]]) -> list[SettingTally]:
    """Each setting the check tried, in the order it tries them (the production setup first),
    with the configurations (of the shown ``runs``) where it held, lost requests after the idle
    timeout, or grew."""
    tallies: dict[str, SettingTally] = {}
    for run in runs:
        result = next((item for item in run["checks"] if item["id"] == CHECK_ID), None)
        evidence = (result or {}).get("evidence")
        setups = evidence.get("setups") if isinstance(evidence, dict) else None
        if not isinstance(setups, list):
            continue
        name = run["server"]["name"]
        for setup in setups:
            if not isinstance(setup, dict) or not isinstance(setup.get("setup"), str):
                continue
            tally = tallies.setdefault(
                setup["setup"], SettingTally(setup["setup"], str(setup.get("label", "?")))
            )
            if size := POOL_SIZE.search(str(setup.get("label", ""))):
                tally.sizes.add(int(size.group(1)))
            if setup.get("outcome") == "yes":
                tally.held.append(name)
            elif _grew(setup):
                tally.grew.append(name)
            elif _failed_after_idle(setup):
                tally.failed_after_idle.append(name)
            else:
                tally.other.append(name)
    return list(tallies.values())


def best_settings(tallies: list[SettingTally]) -> list[SettingTally]:
    """The settings that held on the most configurations (all of them, if tied)."""
    most = max((len(tally.held) for tally in tallies), default=0)
    return [tally for tally in tallies if most and len(tally.held) == most]
