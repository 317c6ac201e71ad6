"""Behaviour checks: each answers one question about a running server with an outcome
(yes / no / partial / not-applicable / error), a one-line summary and the raw evidence, and,
for a no or partial, whose behaviour decided it (the server's, Django's or the project's)."""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from evidence.vocabulary import CAUSED_OUTCOMES, CAUSES, OUTCOMES
from harness.definitions import ServerDefinition
from harness.launcher import Instance, Launcher
from harness.postgres import PostgresInstance
from harness.process import log_tail
from harness.profiles import Profile
from harness.provenance import now_iso
from harness.sizing import SERVER_CPUS
from harness.upstream import UpstreamService


@dataclass(frozen=True)
class CheckContext:
    server: ServerDefinition
    endpoints: dict[str, str]
    profile: Profile
    shared: Instance  # the production-style instance over plain HTTP/1.1, shared by checks
    launcher: Launcher | None = None  # starts other variants (TLS, dev mode, reload...)
    upstream: UpstreamService | None = None  # the slow external API of this capture
    # PostgreSQL for the checks that need one, started once per capture (None: a check that
    # needs it starts its own).
    database: PostgresInstance | None = None

    def url(self, endpoint: str, query: str = "") -> str:
        """URL of a sample-project endpoint (by its name in endpoints.toml) on the shared one."""
        return self.shared.url(self.endpoints[endpoint], query)

    def capacity(self) -> int | None:
        """Sync requests the server serves at once as it was started here (its production
        sizing for SERVER_CPUS); None where it declares no such bound."""
        return self.server.capacity(SERVER_CPUS)

    def capacity_text(self) -> str:
        """The same in words, for verdicts: "3 workers x 8 threads = 24"."""
        return self.server.describe_capacity(SERVER_CPUS)


@dataclass(frozen=True)
class Finding:
    outcome: str
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    # Whose behaviour decided a no or partial (evidence.vocabulary.CAUSES), decided by the
    # check from its evidence; anything but the server's says why in ``cause_detail``, one
    # sentence naming the code that decides it.
    cause: str = "server"
    cause_detail: str = ""


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    group: str
    question: str
    thresholds: str  # the rule that turns raw numbers into an outcome, shown to readers
    run: Callable[[CheckContext], Finding]
    # Timed checks judge by durations, so the capture gives them the machine to themselves
    # (no other server starting or being checked meanwhile); the others may overlap.
    timed: bool = False
    # Heavy checks load both cores (a load generator against the server): they take the
    # machine's exclusive turn (harness/scheduling.py), so no timed check runs beside them.
    heavy: bool = False
    # The inputs a corpus check sends, as the site describes them (id, title, spec, rule,
    # expected); the site draws its per-input grid from these, never from a data file's words.
    cases: tuple[dict[str, str], ...] = ()
    # Whether the server's documented options are worth a run of their own, given the default
    # command's result; None: always. A costly check whose options exist to mend a fault
    # (a memory control) runs them only where the default showed one.
    options_when: Callable[[dict[str, Any]], bool] | None = None

    def tries_options(self, default_result: dict[str, Any]) -> bool:
        return self.options_when is None or self.options_when(default_result)


def cause_record(check_id: str, finding: Finding) -> dict[str, str]:
    """The ``cause`` (and ``cause_detail``) fields of a result: only on the outcomes that count
    against a server, and a detail exactly when the cause is not the server's."""
    if finding.cause not in CAUSES:
        raise ValueError(f"check {check_id} returned unknown cause {finding.cause!r}")
    if finding.outcome not in CAUSED_OUTCOMES:
        if finding.cause != "server":
            raise ValueError(f"check {check_id} named a cause for a {finding.outcome!r} outcome")
        return {}
    if finding.cause == "server":
        return {"cause": "server"}
    if not finding.cause_detail.strip():
        raise ValueError(f"check {check_id} named the {finding.cause} cause without a detail")
    return {"cause": finding.cause, "cause_detail": finding.cause_detail}


def result_record(check: Check, finding: Finding) -> dict[str, Any]:
    if finding.outcome not in OUTCOMES:
        raise ValueError(f"check {check.id} returned unknown outcome {finding.outcome!r}")
    return {
        "id": check.id,
        "title": check.title,
        "group": check.group,
        "question": check.question,
        "thresholds": check.thresholds,
        "timed": check.timed,
        "outcome": finding.outcome,
        "summary": finding.summary,
        **cause_record(check.id, finding),
        "measured_at": now_iso(),
        "evidence": finding.evidence,
    }


def turn_for(check: Check, machine: Any) -> Any:
    """The scheduling turn a check takes on the capture's ``MachineLock``."""
    if check.heavy:
        return machine.heavy_check
    return machine.timed_check if check.timed else nullcontext


def run_check(check: Check, context: CheckContext) -> dict[str, Any]:
    """Run one check; a crash, or the server dying under it, becomes an ``error`` result, and a
    server that died under an earlier check is not checked again."""
    exited_before = context.shared.process.exit_code()
    if exited_before is not None:
        return result_record(
            check,
            Finding(
                "error",
                f"Not measured: the server had already exited (code {exited_before}) during an "
                "earlier check.",
                {"server_log_tail": log_tail(context.shared.log_path)},
            ),
        )
    try:
        finding = check.run(context)
    except Exception as error:  # a check must never stop the run
        finding = Finding(
            "error",
            f"The check could not complete: {type(error).__name__}: {error}"[:500],
            {"traceback": traceback.format_exc()[-4000:]},
        )
    exit_code = context.shared.process.exit_code()
    if exit_code is not None:
        finding = Finding(
            "error",
            f"The server exited (code {exit_code}) during the check. {finding.summary}"[:2000],
            {**finding.evidence, "server_log_tail": log_tail(context.shared.log_path)},
        )
    return result_record(check, finding)


def failed_record(check: Check, reason: str, evidence: dict[str, Any]) -> dict[str, Any]:
    """The result of a check that could not run at all (the server never started)."""
    return result_record(check, Finding("error", reason, evidence))


# The matrix shows groups in this order; each module holds one group's checks.
GROUP_MODULES = (
    "development",
    "concurrency",
    "streaming",
    "websocket",
    "protocols",
    "upstream",
    "django_async",
    "lifecycle",
    "hazards",
    "operations",
)


def all_checks() -> list[Check]:
    checks = []
    for name in GROUP_MODULES:
        module = importlib.import_module(f"harness.checks.{name}")
        checks.extend(module.CHECKS)
    return checks
