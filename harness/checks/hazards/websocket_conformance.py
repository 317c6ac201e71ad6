"""The websocket-conformance check: the Autobahn test suite's cases, driven by kosoku (a Python
3 runner of Autobahn's own case files), against the sample project's Channels echo consumer.

Autobahn judges each case OK, NON-STRICT (a SHOULD not followed; still conformant),
INFORMATIONAL, UNIMPLEMENTED or FAILED (a MUST broken). The check keeps the counts per case
group (the number before the first dot: 1 framing, 2 pings, 3 reserved bits, 4 opcodes, 5
fragmentation, 6 UTF-8, 7 closing, 10 auto-fragmentation) and every case that failed."""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from harness.benchmarks.tool_process import run_tool
from harness.checks import Check, CheckContext, Finding
from harness.checks.hazards._shared import GROUP, without_websockets
from harness.checks.websocket import websocket_url

KOSOKU = Path(sys.executable).with_name("kosoku")
# 9.* sends messages of up to 16 MiB (limits: the websocket-limits question); 12.* and 13.*
# need permessage-deflate, which Channels' servers do not all negotiate.
EXCLUDED = ("9.*", "12.*", "13.*")
INCLUDED: tuple[str, ...] = ()  # every case but the excluded ones; tests pick a few groups
PARALLEL_CASES = 4
TIMEOUT_S = 180.0
FAILED_LISTED = 40
PASSING = ("OK", "INFORMATIONAL")

THRESHOLDS = (
    "kosoku (Autobahn's case files) in fuzzing-client mode against the echo consumer, "
    f"{PARALLEL_CASES} cases at a time, without case groups {', '.join(EXCLUDED)} (message "
    f"sizes, compression), bounded to {TIMEOUT_S:g} s. Outcome: yes = no case FAILED or "
    "UNIMPLEMENTED and no close handshake wrong; partial = only NON-STRICT cases or wrong close "
    "behaviour besides passes; no = some case FAILED; not-applicable on WSGI servers (no "
    "WebSocket)."
)


def _group(case_id: str) -> str:
    return case_id.split(".", 1)[0]


def summarize(index: dict[str, Any]) -> dict[str, Any]:
    """Counts per group and behaviour, and the cases that did not pass, from kosoku's
    ``index.json`` (agent -> case id -> {behavior, behaviorClose, ...})."""
    cases = next(iter(index.values()), {}) if index else {}
    by_group: dict[str, Counter[str]] = {}
    failed, non_strict, close_problems = [], [], []
    for case_id, result in sorted(cases.items(), key=lambda item: _case_key(item[0])):
        behavior = str(result.get("behavior"))
        by_group.setdefault(_group(case_id), Counter())[behavior] += 1
        if behavior in ("FAILED", "UNIMPLEMENTED"):
            failed.append(case_id)
        elif behavior == "NON-STRICT":
            non_strict.append(case_id)
        if str(result.get("behaviorClose")) not in ("OK", "INFORMATIONAL"):
            close_problems.append(f"{case_id}: {result.get('behaviorClose')}")
    return {
        "cases": len(cases),
        "by_group": {group: dict(counts) for group, counts in by_group.items()},
        "failed": failed,
        "non_strict": non_strict,
        "close_problems": close_problems,
    }


def _case_key(case_id: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in case_id.split("."))


def judge(summary: dict[str, Any]) -> tuple[str, str]:
    total = summary["cases"]
    counts = Counter()
    for group in summary["by_group"].values():
        counts.update(group)
    said = ", ".join(f"{count} {behavior}" for behavior, count in sorted(counts.items()))
    if summary["failed"]:
        listed = ", ".join(summary["failed"][:8]) + ("..." if len(summary["failed"]) > 8 else "")
        return (
            "no",
            f"{len(summary['failed'])} of {total} Autobahn cases failed ({listed}); {said}.",
        )
    if summary["non_strict"] or summary["close_problems"]:
        problems = [
            f"{len(summary[key])} {words}"
            for key, words in (
                ("non_strict", "were non-strict"),
                ("close_problems", "closed wrongly"),
            )
            if summary[key]
        ]
        return "partial", f"No case failed, but {' and '.join(problems)}; {said}."
    return "yes", f"All {total} Autobahn cases passed ({said})."


def run(context: CheckContext) -> Finding:
    if (not_applicable := without_websockets(context)) is not None:
        return not_applicable
    if not KOSOKU.exists():
        return Finding(
            "error",
            f"kosoku is not installed beside the harness's Python ({KOSOKU}); it is pinned in "
            "requirements/harness.txt.",
        )
    with tempfile.TemporaryDirectory(prefix="autobahn-") as reports:
        return _run_kosoku(context, Path(reports))


def _run_kosoku(context: CheckContext, outdir: Path) -> Finding:
    """Run the cases, writing kosoku's reports (one JSON file per case) into ``outdir``."""
    command = [str(KOSOKU), "-p", str(PARALLEL_CASES), "-o", str(outdir)]
    for pattern in INCLUDED:
        command += ["-i", pattern]
    for pattern in EXCLUDED:
        command += ["-x", pattern]
    command.append(websocket_url(context))
    finished = run_tool(command, TIMEOUT_S)
    evidence: dict[str, Any] = {
        "instance": context.shared.describe(),
        "command": ["kosoku", *command[1:]],
        "exit_code": finished.exit_code,
        "stderr_tail": finished.stderr[-2000:],
        "excluded": list(EXCLUDED),
    }
    try:
        index = json.loads((outdir / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        reason = "killed at the time limit" if finished.exit_code is None else str(error)
        return Finding("error", f"kosoku wrote no report: {reason}"[:300], evidence)
    summary = summarize(index)
    summary["failed"] = summary["failed"][:FAILED_LISTED]
    evidence.update(summary)
    outcome, said = judge(summary)
    return Finding(outcome, said, evidence)


CHECKS = [
    Check(
        id="websocket-conformance",
        title="WebSocket protocol conformance",
        group=GROUP,
        question=(
            "Does the server's WebSocket implementation pass the Autobahn test suite's framing, "
            "ping, UTF-8 and closing cases?"
        ),
        thresholds=THRESHOLDS,
        run=run,
    ),
]
