"""The needs the site answers (``generators/rules/needs.toml``): the home page's short answers,
/recommendations/ and /pick/ all read this one list, and ``generators/ranking.py`` answers each
with one rule. ``satisfies`` is the gate a configuration passes to be considered at all."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence.vocabulary import OUTCOMES
from generators.causes import counts_for_server
from generators.framing import CHECK_ID as FRAMING_CHECK_ID

NEEDS_FILE = Path(__file__).resolve().parent / "rules" / "needs.toml"
MODES = ("production", "development")
INTERFACES = ("wsgi", "asgi")


class NeedsError(Exception):
    """The needs file is unusable; the message names the file and the field."""


@dataclass(frozen=True)
class Need:
    id: str
    label: str
    require: dict[str, list[str]]  # check id -> outcomes that satisfy it
    # Checks whose result must show no input that desyncs (``desync_inputs``, from
    # generators/framing.py), whatever the outcome: a run judged before the request-smuggling
    # rule read each input's risk could be "partial" with a desync.
    no_desync: tuple[str, ...] = ()
    rank_by: tuple[str, ...] = ()  # checks whose outcomes order the qualifying configurations
    mode: str = "production"
    interface: str | None = None  # None: answered per interface
    question: str = ""
    figures: tuple[str, ...] = ()
    home: bool = False

    def as_record(self) -> dict[str, Any]:
        """What /pick/'s script needs to apply the rule in the browser."""
        return {
            "id": self.id,
            "label": self.label,
            "require": self.require,
            "no_desync": list(self.no_desync),
            "rank_by": list(self.rank_by),
            "mode": self.mode,
            "interface": self.interface,
        }


def load_needs(check_ids: set[str], path: Path = NEEDS_FILE) -> list[Need]:
    """The needs, each checked against the known checks and outcomes."""
    return load_rules(check_ids, path)[0]


def load_rules(check_ids: set[str], path: Path = NEEDS_FILE) -> tuple[list[Need], list[str]]:
    """The needs and the checks watched beside every answer, checked against the known checks
    and outcomes."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise NeedsError(f"{path}: {error}") from error
    problems = [
        f"{path}: watch/{c}: not a known check" for c in raw.get("watch", []) if c not in check_ids
    ]
    needs = []
    for index, entry in enumerate(raw.get("need", [])):
        need = _need(entry, f"{path}: need/{index}", check_ids, problems)
        if need is not None:
            needs.append(need)
    if problems:
        raise NeedsError("\n".join(problems))
    return needs, list(raw.get("watch", []))


def _need(
    entry: dict[str, Any], where: str, check_ids: set[str], problems: list[str]
) -> Need | None:
    if not isinstance(entry.get("id"), str) or not isinstance(entry.get("label"), str):
        problems.append(f"{where}: needs an id and a label (strings)")
        return None
    require = entry.get("require")
    if not isinstance(require, dict) or not require:
        problems.append(f"{where}/require: names no check")
        return None
    for check, outcomes in require.items():
        if check not in check_ids:
            problems.append(f"{where}/require/{check}: not a known check")
        if not isinstance(outcomes, list) or not set(outcomes) <= set(OUTCOMES):
            problems.append(f"{where}/require/{check}: outcomes must be among {OUTCOMES}")
    no_desync = entry.get("no_desync", [])
    if not isinstance(no_desync, list) or not set(no_desync) <= {FRAMING_CHECK_ID}:
        problems.append(f"{where}/no_desync: may name only {FRAMING_CHECK_ID!r}")
        return None
    problems.extend(
        f"{where}/rank_by/{check}: not a known check"
        for check in entry.get("rank_by", [])
        if check not in check_ids
    )
    if entry.get("mode", "production") not in MODES:
        problems.append(f"{where}/mode: must be one of {MODES}")
    if entry.get("interface") not in (None, *INTERFACES):
        problems.append(f"{where}/interface: must be one of {INTERFACES} or left out")
    return Need(
        id=entry["id"],
        label=entry["label"],
        require=require,
        no_desync=tuple(no_desync),
        rank_by=tuple(entry.get("rank_by", [])),
        mode=entry.get("mode", "production"),
        interface=entry.get("interface"),
        question=entry.get("question", ""),
        figures=tuple(entry.get("figures", [])),
        home=bool(entry.get("home", False)),
    )


def satisfies(run: dict[str, Any], needs: list[Need]) -> bool:
    """Every listed check has an allowed outcome, or one that Django's own handler (or the
    sample project's idiom) decided: that is not held against the server, since every server
    of the interface would get the same (pick.js applies the same rule); and every check in a
    need's ``no_desync`` shows no input that desyncs, whatever its outcome."""
    return not unmet(run, needs)


def unmet(run: dict[str, Any], needs: list[Need]) -> list[str]:
    """Why ``run`` does not satisfy ``needs`` (the mode and interface aside): one reason per
    required check it fails; empty when it satisfies them."""
    results = {result["id"]: result for result in run["checks"]}
    reasons = []
    for need in needs:
        for check, allowed in need.require.items():
            result = results.get(check)
            if result is None:
                reasons.append(f"{check} not measured")
            elif result["outcome"] not in allowed and counts_for_server(result):
                reasons.append(f"{check}: {result['outcome']}")
        for check in need.no_desync:
            if results.get(check, {}).get("desync_inputs") != []:
                reasons.append(f"{check}: an input desyncs")
    return list(dict.fromkeys(reasons))
