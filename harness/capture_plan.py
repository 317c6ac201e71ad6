"""What one capture is: its ids, profile, where it writes, what it runs, and the state its
phases share (the machine lock, the interrupt flag, the code that runs)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evidence.layout import DataDir
from evidence.schema import SCHEMA_VERSION
from evidence.vocabulary import SCENARIOS
from harness import checks as checks_module
from harness.checks import Check
from harness.profiles import Profile
from harness.provenance import git_commit, git_dirty, now_iso
from harness.scheduling import MachineLock


@dataclass(frozen=True)
class Capture:
    capture_id: str
    machine_id: str
    profile: Profile
    data: DataDir
    environments_dir: Path
    checks: Sequence[Check] = ()  # empty: every check
    run_checks: bool = True
    scenarios: Sequence[str] = ()  # benchmark scenarios to run after the checks; empty: none
    jobs: int = 1  # servers captured at the same time (checks only; benchmarks run alone)
    machine: MachineLock = field(default_factory=MachineLock)
    # The code that runs is the code at the start: read git once, before any server runs.
    git_commit: str | None = field(default_factory=git_commit)
    git_dirty: bool | None = field(default_factory=git_dirty)
    interrupted: threading.Event = field(default_factory=threading.Event)

    def selected_checks(self) -> Sequence[Check]:
        if not self.run_checks:
            return ()
        return self.checks or checks_module.all_checks()

    def document_header(self, started_at: str) -> dict[str, Any]:
        """The fields every data file of this capture begins with (finished: now)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "capture": self.capture_id,
            "machine": self.machine_id,
            "profile": self.profile.name,
            "started_at": started_at,
            "finished_at": now_iso(),
        }

    def selected_scenarios(self) -> list[str]:
        """The chosen scenarios, in the order they run."""
        return [scenario for scenario in SCENARIOS if scenario in self.scenarios]
