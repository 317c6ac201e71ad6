"""Pick by need (/pick/): the needs a reader can tick (``generators/rules/needs.toml``) and
which shown configurations satisfy each. The page's script combines the ticked needs in the
browser from ``data/matrix.json`` with the same rule; the static tables below the form give
the same answer per need without the script."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence.vocabulary import OUTCOMES
from generators.causes import counts_for_server
from generators.framing import CHECK_ID as FRAMING_CHECK_ID

NEEDS_FILE = Path(__file__).resolve().parent / "rules" / "needs.toml"
RANKING = (
    "production configurations first, then those whose checks say yes most often in all, "
    "then by name"
)


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

    def as_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "require": self.require,
            "no_desync": list(self.no_desync),
        }


def load_needs(check_ids: set[str], path: Path = NEEDS_FILE) -> list[Need]:
    """The needs, each checked against the known checks and outcomes."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise NeedsError(f"{path}: {error}") from error
    needs, problems = [], []
    for index, entry in enumerate(raw.get("need", [])):
        where = f"{path}: need/{index}"
        if not isinstance(entry.get("id"), str) or not isinstance(entry.get("label"), str):
            problems.append(f"{where}: needs an id and a label (strings)")
            continue
        require = entry.get("require")
        if not isinstance(require, dict) or not require:
            problems.append(f"{where}/require: names no check")
            continue
        for check, outcomes in require.items():
            if check not in check_ids:
                problems.append(f"{where}/require/{check}: not a known check")
            if not isinstance(outcomes, list) or not set(outcomes) <= set(OUTCOMES):
                problems.append(f"{where}/require/{check}: outcomes must be among {OUTCOMES}")
        no_desync = entry.get("no_desync", [])
        if not isinstance(no_desync, list) or not set(no_desync) <= {FRAMING_CHECK_ID}:
            problems.append(f"{where}/no_desync: may name only {FRAMING_CHECK_ID!r}")
            continue
        needs.append(Need(entry["id"], entry["label"], require, tuple(no_desync)))
    if problems:
        raise NeedsError("\n".join(problems))
    return needs


def satisfies(run: dict[str, Any], needs: list[Need]) -> bool:
    """Every listed check has an allowed outcome, or one that Django's own handler (or the
    sample project's idiom) decided: that is not held against the server, since every server
    of the interface would get the same (pick.js applies the same rule); and every check in a
    need's ``no_desync`` shows no input that desyncs, whatever its outcome."""
    results = {result["id"]: result for result in run["checks"]}
    return all(
        check in results
        and (results[check]["outcome"] in allowed or not counts_for_server(results[check]))
        for need in needs
        for check, allowed in need.require.items()
    ) and all(
        check in results and results[check].get("desync_inputs") == []
        for need in needs
        for check in need.no_desync
    )


def ranked(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs in the page's order (``RANKING``)."""

    def key(run: dict[str, Any]) -> tuple:
        yes = sum(result["outcome"] == "yes" for result in run["checks"])
        return (run["server"]["mode"] != "production", -yes, run["server"]["name"])

    return sorted(runs, key=key)


def per_need(runs: list[dict[str, Any]], needs: list[Need]) -> list[tuple[Need, list]]:
    """Each need with the runs that satisfy it alone, ranked."""
    return [(need, ranked([run for run in runs if satisfies(run, [need])])) for need in needs]
