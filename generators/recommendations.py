"""Apply the recommendation rules (generators/rules/recommendations.toml) to the latest runs.

A configuration is recommended for a situation only when its measured outcomes meet every
requirement; candidates are ranked by how many preferred checks say yes (earlier ones weigh
more), then by name. A requirement whose result Django's own handler (or the sample project's
idiom) decided is not held against the server: it is set aside, as every server of the
interface would get the same, and the rule judges the server on the rest. Nothing here is
opinion typed by hand: change a rule or the data and the page changes.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generators.causes import counts_for_server

RULES_FILE = Path(__file__).resolve().parent / "rules" / "recommendations.toml"
TOP = 3


@dataclass(frozen=True)
class Situation:
    id: str
    title: str
    need: str
    require: dict[str, list[str]]
    prefer: list[str]
    figures: list[str]
    mode: str | None = None
    interface: str | None = None


@dataclass
class Verdict:
    situation: Situation
    # {run, evidence, score, set_aside}: set_aside holds the required results Django decided
    recommended: list[dict[str, Any]] = field(default_factory=list)
    excluded: list[dict[str, Any]] = field(default_factory=list)  # {run, reasons}
    unmeasured: list[str] = field(default_factory=list)  # required checks nobody measured


def load_rules(path: Path = RULES_FILE) -> list[Situation]:
    with path.open("rb") as stream:
        return [Situation(**entry) for entry in tomllib.load(stream)["situation"]]


def _outcomes(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["id"]: check for check in run["checks"]}


def judge(situation: Situation, runs: list[dict[str, Any]]) -> Verdict:
    verdict = Verdict(situation)
    measured = {check["id"] for run in runs for check in run["checks"]}
    verdict.unmeasured = [check for check in situation.require if check not in measured]
    for run in runs:
        server = run["server"]
        reasons = []
        if situation.mode and server["mode"] != situation.mode:
            reasons.append(f"meant for {server['mode']}")
        if situation.interface and server["interface"] != situation.interface:
            reasons.append(f"{server['interface'].upper()} server")
        results = _outcomes(run)
        evidence, set_aside = [], []
        for check_id, allowed in situation.require.items():
            result = results.get(check_id)
            if result is None:
                reasons.append(f"{check_id} not measured")
            elif result["outcome"] in allowed:
                evidence.append(result)
            elif not counts_for_server(result):
                set_aside.append(result)
            else:
                reasons.append(f"{check_id}: {result['outcome']}")
        if reasons:
            verdict.excluded.append({"run": run, "reasons": reasons})
            continue
        weights = range(len(situation.prefer), 0, -1)
        score = sum(
            weight
            for weight, check_id in zip(weights, situation.prefer, strict=True)
            if results.get(check_id, {}).get("outcome") == "yes"
        )
        preferred = [results[check_id] for check_id in situation.prefer if check_id in results]
        verdict.recommended.append(
            {"run": run, "evidence": evidence + preferred, "score": score, "set_aside": set_aside}
        )
    verdict.recommended.sort(key=lambda item: (-item["score"], item["run"]["server"]["name"]))
    return verdict


def all_verdicts(runs: list[dict[str, Any]]) -> list[Verdict]:
    return [judge(situation, runs) for situation in load_rules()]
