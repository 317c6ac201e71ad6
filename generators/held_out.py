"""Held-out agreement: what the servers' own test suites and documentation say a cell of the
matrix should be, set beside what we measured there.

The statements are declared in ``generators/sources/held_out.toml``, one per (configuration,
check) cell, each paraphrased with its URL and the outcome it implies under the check's rule.
They are reference text written by hand, never evidence: nothing of them reaches ``data/``, and
the comparison is computed here from the shown runs on every build, so it follows the data.

A statement about a server's default behaviour is compared with the result of the
configuration's default command; the matrix may show a better outcome reached with a documented
option, and the table says so. A statement about an option (``option``) is compared with that
option's result, and one about a single request-smuggling input (``case``) with that input's
recorded class.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence.vocabulary import FRAMING_CLASSES, OUTCOMES
from generators.framing import CHECK_ID as FRAMING_CHECK_ID
from generators.framing import recorded_cases
from generators.model import Site

HELD_OUT_FILE = Path(__file__).resolve().parent / "sources" / "held_out.toml"
SOURCE_KINDS = ("test", "docs")
AGREE, DISAGREE, NOT_MEASURED = "agree", "DISAGREE", "not measured"
# Disagreements first: they are what a reader of this section came for.
_VERDICT_ORDER = {DISAGREE: 0, AGREE: 1, NOT_MEASURED: 2}
_REQUIRED = ("configuration", "check", "source_kind", "url", "says", "implies", "pinned_version")
_OPTIONAL = ("option", "case")


class HeldOutError(Exception):
    """A statement file that cannot be used, named with the statement and field at fault."""


@dataclass(frozen=True)
class Statement:
    configuration: str
    check: str
    source_kind: str  # test | docs
    url: str
    says: str  # our paraphrase of the upstream statement
    implies: str  # an outcome word, or a smuggling input's class when ``case`` is set
    pinned_version: str  # the server version the statement was read at
    option: str | None  # the configuration's option the statement is about; None = default
    case: str | None  # a request-smuggling input id; None = the check's outcome


@dataclass(frozen=True)
class Comparison:
    statement: Statement
    measured: str | None  # the compared word (outcome or input class); None = not measured
    shown: str | None  # the matrix's outcome of the cell, when it differs from ``measured``
    shown_with: str | None  # the option label the matrix's outcome needs, if any
    verdict: str  # AGREE | DISAGREE | NOT_MEASURED
    # The server package and version the shown run measured ("gunicorn 27.0.1"), so a reader
    # sees when a statement was read at another release; None for a result carried from an
    # earlier run (its version may differ) or a run that does not say.
    measured_on: str | None = None


def load_statements(
    path: Path,
    configurations: set[str],
    checks: dict[str, dict[str, Any]],
) -> list[Statement]:
    """The statements of ``path``; ``configurations`` are the known server ids, ``checks`` the
    catalog by id (its ``cases`` name the smuggling inputs). Any unknown configuration, check,
    input, source kind or outcome word raises, naming the file, statement and field."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise HeldOutError(f"{path}: cannot be read: {error}") from error
    unknown_top = set(raw) - {"statement"}
    if unknown_top:
        raise HeldOutError(f"{path}: unknown top-level field(s) {sorted(unknown_top)}")
    items = raw.get("statement", [])
    if not isinstance(items, list) or not items:
        raise HeldOutError(f"{path}: no [[statement]] tables")
    return [
        _statement(path, index, item, configurations, checks) for index, item in enumerate(items)
    ]


def _statement(
    path: Path,
    index: int,
    item: Any,
    configurations: set[str],
    checks: dict[str, dict[str, Any]],
) -> Statement:
    where = f"{path}: statement {index + 1}"

    def bad(field: str, value: Any, allowed: Any) -> HeldOutError:
        return HeldOutError(f"{where}: field {field!r} is {value!r}; allowed: {allowed}")

    if not isinstance(item, dict):
        raise HeldOutError(f"{where}: not a table")
    for field in _REQUIRED:
        if not isinstance(item.get(field), str) or not item[field].strip():
            raise HeldOutError(f"{where}: field {field!r} is missing or not a non-empty string")
    for field in _OPTIONAL:
        if field in item and not isinstance(item[field], str):
            raise bad(field, item[field], "a string")
    unknown = set(item) - set(_REQUIRED) - set(_OPTIONAL)
    if unknown:
        raise HeldOutError(f"{where}: unknown field(s) {sorted(unknown)}")
    if item["configuration"] not in configurations:
        raise bad("configuration", item["configuration"], sorted(configurations))
    if item["check"] not in checks:
        raise bad("check", item["check"], sorted(checks))
    if item["source_kind"] not in SOURCE_KINDS:
        raise bad("source_kind", item["source_kind"], list(SOURCE_KINDS))
    if not item["url"].startswith("https://"):
        raise bad("url", item["url"], "an https:// address")
    case = item.get("case")
    if case is not None:
        if item["check"] != FRAMING_CHECK_ID:
            raise bad("case", case, f"only with check {FRAMING_CHECK_ID!r}")
        inputs = [entry["id"] for entry in checks[FRAMING_CHECK_ID].get("cases", [])]
        if case not in inputs:
            raise bad("case", case, inputs)
        if item["implies"] not in FRAMING_CLASSES:
            raise bad("implies", item["implies"], list(FRAMING_CLASSES))
    elif item["implies"] not in OUTCOMES:
        raise bad("implies", item["implies"], list(OUTCOMES))
    return Statement(**{field: item.get(field) for field in _REQUIRED + _OPTIONAL})


def compare(statement: Statement, site: Site) -> Comparison:
    """One statement against the cell the site shows for it."""
    run = next((r for r in site.runs if r["server"]["id"] == statement.configuration), None)
    result = site.result(run, statement.check) if run is not None else None
    if result is None:
        return Comparison(statement, None, None, None, NOT_MEASURED)
    shown = result["outcome"]
    measured_on = None if result.get("carried_from") else _package_version(run["server"])
    shown_with = result["condition"]["label"] if result.get("condition") else None
    if statement.case is not None:
        case = next((c for c in recorded_cases(result) if c.get("id") == statement.case), None)
        measured = case.get("class") if case is not None else None
    elif statement.option is not None:
        option = next((o for o in result["options"] if o["option"] == statement.option), None)
        measured = option["outcome"] if option is not None else None
    else:
        # The default command's own result: the matrix shows an option's when it does better.
        measured = result["default"]["outcome"] if result.get("default") else shown
    if measured is None:
        return Comparison(statement, None, shown, shown_with, NOT_MEASURED, measured_on)
    verdict = AGREE if measured == statement.implies else DISAGREE
    keep_shown = statement.case is None and measured != shown
    return Comparison(
        statement,
        measured,
        shown if keep_shown else None,
        shown_with if keep_shown else None,
        verdict,
        measured_on,
    )


def _package_version(server: dict[str, Any]) -> str | None:
    package, version = server.get("package"), server.get("version")
    return f"{package} {version}" if package and version else None


def held_out_comparisons(site: Site, statements: list[Statement]) -> list[Comparison]:
    """Every statement compared, disagreements first, then in matrix order of configuration."""
    order = {run["server"]["id"]: index for index, run in enumerate(site.runs)}
    compared = [compare(statement, site) for statement in statements]
    return sorted(
        compared,
        key=lambda c: (
            _VERDICT_ORDER[c.verdict],
            order.get(c.statement.configuration, len(order)),
            c.statement.configuration,
            c.statement.check,
        ),
    )


def counts(comparisons: list[Comparison]) -> dict[str, int]:
    """How many statements agree, disagree and could not be compared."""
    return {verdict: sum(c.verdict == verdict for c in comparisons) for verdict in _VERDICT_ORDER}
