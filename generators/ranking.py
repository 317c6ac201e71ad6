"""The one rule that answers a need (or several ticked together), for the home page's short
answers, /recommendations/ and /pick/ alike (its script mirrors ``answer`` in the browser).

1. A configuration qualifies when it is of the need's mode (and interface, when the need fixes
   one) and passes its requirements (``generators.needs.unmet``).
2. The qualifying configurations are compared per interface, on the need's ``rank_by`` checks
   only: one ranks above another when it is at least as good on every one of them and better
   on one (yes > partial > no; an input of the request-smuggling check that desyncs counts as
   no). A check measured for one of the two and not for the other (or not applicable to one,
   or an error) decides nothing between them: a result that is not there is neither a pass nor
   a failure. Whatever this cannot order is a tie, shown as one ("any of A, B, C"): names and
   file order decide nothing.
3. Each configuration carries its caveats, computed from its own results on the checks that
   matter for the need and on the watched ones: a no, partial or error, an input that desyncs,
   a result Django's handler (or the sample project) decided, and the checks not measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from generators.causes import counts_for_server, decided_by
from generators.needs import INTERFACES, Need, unmet

# Outcomes that compare, worst to best; not-applicable and error do not compare with anything.
GRADES = {"no": 1, "partial": 2, "yes": 3}


@dataclass(frozen=True)
class Caveat:
    check: str
    title: str
    outcome: str | None  # None: not measured for this configuration
    summary: str = ""
    cause: str | None = None  # "django" / "project" when they, not the server, decided it
    detail: str = ""  # the cause's one sentence, or the inputs that desync


@dataclass
class Candidate:
    run: dict[str, Any]
    met: list[dict[str, Any]]  # the required results
    set_aside: list[dict[str, Any]]  # required results Django (or the project) decided
    grades: dict[str, int | None]  # rank_by check -> grade; None when it does not compare
    caveats: list[Caveat] = field(default_factory=list)
    # Configurations ranked above this one, each with the checks on which it is better.
    beaten_by: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.run["server"]["name"]


@dataclass
class Group:
    """The answer among one interface's configurations: tiers, best first."""

    interface: str
    tiers: list[list[Candidate]]

    @property
    def winners(self) -> list[Candidate]:
        return self.tiers[0] if self.tiers else []


@dataclass
class Answer:
    needs: list[Need]
    groups: list[Group]
    excluded: list[tuple[dict[str, Any], list[str]]]  # (run, reasons)
    unmeasured: list[str]  # required checks no shown configuration measured
    rank_by: list[str]
    never_measured: list[str]  # ranked or watched checks no shown configuration measured
    conflict: str = ""  # why the needs cannot be met together (modes or interfaces differ)

    @property
    def need(self) -> Need:
        return self.needs[0]

    @property
    def winners(self) -> list[Candidate]:
        """Every configuration of some interface's first tier."""
        return [candidate for group in self.groups for candidate in group.winners]

    def not_measured_for_winners(self) -> list[tuple[str, list[str]]]:
        """(check title, names of the winners it was not measured for), once per check."""
        missing: dict[str, list[str]] = {}
        for candidate in self.winners:
            for item in candidate.caveats:
                if item.outcome is None:
                    missing.setdefault(item.title, []).append(candidate.name)
        return list(missing.items())


def grade(result: dict[str, Any] | None) -> int | None:
    """How a result compares for ranking; None when it does not: missing, not the server's,
    not applicable, an error."""
    if result is None or not counts_for_server(result):
        return None
    if result.get("desync_inputs"):
        return GRADES["no"]
    return GRADES.get(result["outcome"])


def better_on(a: Candidate, b: Candidate) -> list[str] | None:
    """The checks on which ``a`` is better than ``b`` when ``a`` ranks above ``b`` (as good on
    every compared check, better on one); None when it does not."""
    better = []
    for check, mine in a.grades.items():
        theirs = b.grades[check]
        if mine is None and theirs is None:
            continue
        if mine is None or theirs is None or mine < theirs:
            return None
        if mine > theirs:
            better.append(check)
    return better or None


def tiers(candidates: list[Candidate]) -> list[list[Candidate]]:
    """Candidates in tiers: the first holds those nothing ranks above, the next those only the
    first ranks above, and so on; within a tier, by name for reading only (it is a tie)."""
    remaining, layered = list(candidates), []
    while remaining:
        tier = [c for c in remaining if not any(better_on(o, c) for o in remaining)]
        for candidate in tier:
            if layered:
                candidate.beaten_by = [
                    (above.name, better)
                    for above in layered[-1]
                    if (better := better_on(above, candidate))
                ]
        layered.append(sorted(tier, key=lambda c: c.name))
        remaining = [c for c in remaining if c not in tier]
    return layered


def _combined(needs: list[Need]) -> tuple[str | None, str, str]:
    """(interface, mode, conflict) of needs ticked together."""
    modes = sorted({need.mode for need in needs})
    interfaces = sorted({need.interface for need in needs if need.interface})
    conflict = ""
    if len(modes) > 1:
        conflict = f"these needs are about different modes ({', '.join(modes)})"
    elif len(interfaces) > 1:
        conflict = f"these needs fix different interfaces ({', '.join(interfaces)})"
    return (interfaces[0] if interfaces else None), modes[0], conflict


def caveats(run: dict[str, Any], checks: list[str], titles: dict[str, str]) -> list[Caveat]:
    """What to watch out for in ``run`` among ``checks``, from its own results."""
    results = {result["id"]: result for result in run["checks"]}
    found = []
    for check in dict.fromkeys(checks):
        result = results.get(check)
        title = titles.get(check, check)
        if result is None:
            found.append(Caveat(check, title, None))
            continue
        desyncs = result.get("desync_inputs") or []
        worth = result["outcome"] in ("no", "error") or desyncs
        # A partial of the smuggling check without a desync is its own "fine" (no input that
        # can desync a proxy); a partial elsewhere is a limit worth knowing.
        worth = worth or (result["outcome"] == "partial" and result.get("desync_inputs") is None)
        if worth:
            detail = (
                f"inputs that desync: {', '.join(desyncs)}"
                if desyncs
                else result.get("cause_detail") or ""
            )
            found.append(
                Caveat(
                    check,
                    title,
                    result["outcome"],
                    result.get("summary", ""),
                    decided_by(result),
                    detail,
                )
            )
    return found


def answer(
    needs: list[Need],
    runs: list[dict[str, Any]],
    watch: list[str] = (),
    titles: dict[str, str] | None = None,
) -> Answer:
    """The answer to ``needs`` (one, or several ticked together) from ``runs``."""
    titles = titles or {}
    interface, mode, conflict = _combined(needs)
    rank_by = list(dict.fromkeys(check for need in needs for check in need.rank_by))
    required = list(dict.fromkeys(check for need in needs for check in need.require))
    measured = {result["id"] for run in runs for result in run["checks"]}
    considered = [check for check in dict.fromkeys([*rank_by, *watch]) if check in measured]
    excluded, qualifying = [], []
    for run in runs:
        server = run["server"]
        reasons = []
        if server["mode"] != mode:
            reasons.append(f"meant for {server['mode']}")
        if interface and server["interface"] != interface:
            reasons.append(f"{server['interface'].upper()} server")
        reasons += unmet(run, needs)
        if reasons or conflict:
            excluded.append((run, reasons or [conflict]))
            continue
        results = {result["id"]: result for result in run["checks"]}
        shown = [results[check] for check in required]
        qualifying.append(
            Candidate(
                run=run,
                met=[r for r in shown if counts_for_server(r)],
                set_aside=[r for r in shown if not counts_for_server(r)],
                grades={check: grade(results.get(check)) for check in rank_by},
                caveats=caveats(run, [*required, *considered], titles),
            )
        )
    groups = [
        Group(each, tiers([c for c in qualifying if c.run["server"]["interface"] == each]))
        for each in ((interface,) if interface else INTERFACES)
    ]
    return Answer(
        needs=needs,
        groups=groups,
        excluded=excluded,
        unmeasured=[check for check in required if check not in measured],
        rank_by=rank_by,
        never_measured=[c for c in dict.fromkeys([*rank_by, *watch]) if c not in measured],
        conflict=conflict,
    )
