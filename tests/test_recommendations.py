"""One rule answers every need, the same on the home page, /recommendations/ and /pick/: only
the checks that matter for the need rank, ties stay ties, and names decide nothing (SYNTHETIC
outcomes throughout)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from evidence.validation import load_evidence
from generators.escaping import markdown_text
from generators.needs import Need, load_rules
from generators.ranking import answer
from generators.render import render_pages
from tests import synthetic

WEBSOCKETS = Need(
    id="ws",
    label="WebSockets",
    require={"websocket": ["yes"]},
    rank_by=("websocket-limits", "graceful-shutdown"),
)


def _run(
    server: str,
    outcomes: dict[str, str],
    *,
    name: str | None = None,
    mode: str = "production",
    interface: str = "asgi",
) -> dict[str, Any]:
    document = synthetic.run(server, name=name or server.title(), interface=interface)
    document["server"]["mode"] = mode
    template = document["checks"][0]
    document["checks"] = [
        dict(template, id=check, outcome=outcome, summary=f"SYNTHETIC {check}: {outcome}.")
        for check, outcome in outcomes.items()
    ]
    return document


def _winners(runs: list[dict[str, Any]], need: Need = WEBSOCKETS) -> list[list[str]]:
    return [[c.run["server"]["id"] for c in group.winners] for group in answer([need], runs).groups]


def test_only_configurations_meeting_every_requirement_qualify() -> None:
    runs = [
        _run("uvicorn", {"websocket": "yes", "graceful-shutdown": "no"}),
        _run("gunicorn-sync", {"websocket": "no", "graceful-shutdown": "yes"}, interface="wsgi"),
        _run("runserver", {"websocket": "yes"}, mode="development"),
    ]
    result = answer([WEBSOCKETS], runs)
    assert [c.run["server"]["id"] for c in result.winners] == ["uvicorn"]
    reasons = {run["server"]["id"]: why for run, why in result.excluded}
    assert reasons == {"gunicorn-sync": ["websocket: no"], "runserver": ["meant for development"]}


def test_one_ranks_above_another_only_when_as_good_everywhere_and_better_somewhere() -> None:
    runs = [
        _run("uvicorn", {"websocket": "yes", "websocket-limits": "yes", "graceful-shutdown": "no"}),
        _run("daphne", {"websocket": "yes", "websocket-limits": "yes", "graceful-shutdown": "yes"}),
    ]
    assert _winners(runs) == [[], ["daphne"]]
    (lower,) = answer([WEBSOCKETS], runs).groups[1].tiers[1]
    assert lower.beaten_by == [("Daphne", ["graceful-shutdown"])]
    runs[1]["checks"][1]["outcome"] = "partial"  # now each is better on one check: a tie
    assert _winners(runs) == [[], ["daphne", "uvicorn"]]


def test_a_tie_is_kept_whatever_the_names_and_the_order() -> None:
    same = {"websocket": "yes", "websocket-limits": "partial", "graceful-shutdown": "yes"}
    runs = [_run("alpha", same, name="Zulu"), _run("beta", same, name="Alpha")]
    for order in (runs, runs[::-1]):
        result = answer([WEBSOCKETS], order)
        assert [[c.name for c in tier] for tier in result.groups[1].tiers] == [["Alpha", "Zulu"]]


def test_a_check_measured_for_one_only_decides_nothing_and_is_said() -> None:
    runs = [
        _run("alpha", {"websocket": "yes", "websocket-limits": "yes", "graceful-shutdown": "yes"}),
        _run("beta", {"websocket": "yes", "websocket-limits": "partial"}),
    ]
    result = answer([WEBSOCKETS], runs, titles={"graceful-shutdown": "Graceful shutdown"})
    assert _winners(runs) == [[], ["alpha", "beta"]]  # alpha's yes on a check beta lacks
    beta = next(c for c in result.winners if c.run["server"]["id"] == "beta")
    assert [(item.title, item.outcome) for item in beta.caveats] == [
        ("websocket-limits", "partial"),
        ("Graceful shutdown", None),
    ]
    assert result.not_measured_for_winners() == [("Graceful shutdown", ["Beta"])]


def test_caveats_come_from_the_configuration_s_own_results() -> None:
    run = _run(
        "alpha",
        {
            "websocket": "yes",
            "request-smuggling": "no",
            "database-connections": "partial",
            "graceful-shutdown": "yes",
        },
    )
    run["checks"][2] |= {"cause": "django", "cause_detail": "Django's pool decides it (x.py)."}
    result = answer([WEBSOCKETS], [run], watch=["request-smuggling", "database-connections"])
    (winner,) = result.winners
    shown = {item.check: (item.outcome, item.cause) for item in winner.caveats}
    assert shown == {
        "request-smuggling": ("no", None),
        "database-connections": ("partial", "django"),
    }
    assert result.never_measured == ["websocket-limits"]


def test_the_rules_file_names_only_known_checks() -> None:
    from harness.checks import all_checks

    known = {check.id for check in all_checks()}
    needs, watch = load_rules(known)
    assert set(watch) <= known
    assert any(need.home for need in needs)
    for need in needs:
        assert set(need.require) <= known and set(need.rank_by) <= known, need.id


# --- the three pages agree ------------------------------------------------------------------

# SYNTHETIC outcomes chosen so that some needs tie and some rank: alpha and beta tie for a sync
# CRUD app (identical outcomes, names in reverse of id order); gamma ranks below them (a slow
# client stalls it); delta and epsilon tie for WebSockets (each better on one ranked check).
_WSGI = {
    "concurrency-sync-sleep": "yes",
    "graceful-shutdown": "yes",
    "upstream-threadpool": "yes",
    "slow-client": "yes",
    "overload": "yes",
    "header-limits": "yes",
    "body-limit": "yes",
    "tls": "yes",
    "http2-tls": "yes",
}
_ASGI = {
    "websocket": "yes",
    "sse": "yes",
    "sse-browser": "yes",
    "sse-disconnect": "yes",
    "graceful-shutdown": "yes",
    "tls": "yes",
    "http2-tls": "yes",
    "async-view": "yes",
    "orm-async": "yes",
    "concurrency-sync-sleep": "yes",
}


def _site_runs() -> list[dict[str, Any]]:
    return [
        _run("alpha", _WSGI, name="Zulu", interface="wsgi"),
        _run("beta", _WSGI, name="Alpha", interface="wsgi"),
        _run("gamma", _WSGI | {"slow-client": "no"}, name="Gamma", interface="wsgi"),
        _run(
            "delta",
            _ASGI | {"websocket-limits": "yes", "websocket-conformance": "partial"},
            name="Delta",
        ),
        _run(
            "epsilon",
            _ASGI
            | {"websocket-limits": "partial", "websocket-conformance": "yes"}
            | {"request-smuggling": "no", "database-connections": "partial"},
            name="Epsilon",
        ),
    ]


def _linked(cell: str) -> set[str]:
    return set(re.findall(r"\]\(servers/([a-z0-9-]+)\.md\)", cell))


def _row(page: str, start: str) -> list[str]:
    line = next(line for line in page.splitlines() if line.startswith(start))
    return line.split(" | ")


def _pages_answers(pages: dict[str, str], needs: list[Need]) -> dict[str, dict[str, set]]:
    """need id -> page -> the configurations the page names as the answer."""
    recommendations = pages["recommendations.md"]
    found: dict[str, dict[str, set]] = {}
    for need in needs:
        section = recommendations.split(f"{{: #{need.id} }}", 1)[1]
        answer_line = next(line for line in section.splitlines() if line.startswith("**Answer:**"))
        found[need.id] = {
            "recommendations": _linked(answer_line),
            "pick": _linked(_row(pages["pick.md"], f"| {markdown_text(need.label)} |")[3]),
        }
        if need.home:
            found[need.id]["home"] = _linked(
                _row(pages["index.md"], f"| [{markdown_text(need.label)}]")[1]
            )
    return found


def test_home_recommendations_and_pick_give_the_same_answers(tmp_path: Path) -> None:
    synthetic.write_data(tmp_path, _site_runs())
    pages = render_pages(load_evidence(tmp_path))
    needs, _ = load_rules(_known_checks())
    evidence = load_evidence(tmp_path)
    runs = [loaded.document for loaded in evidence.runs]
    for need in needs:
        expected = {c.run["server"]["id"] for c in answer([need], runs).winners}
        shown = _pages_answers(pages, [need])[need.id]
        assert all(names == expected for names in shown.values()), (need.id, shown, expected)
    home = _row(pages["index.md"], "| [A plain sync CRUD app]")
    assert home[1].startswith("any of ") and _linked(home[1]) == {"alpha", "beta"}
    websockets = _row(pages["index.md"], "| [WebSockets")
    assert "any of " in websockets[1] and _linked(websockets[1]) == {"delta", "epsilon"}
    assert "Ambiguous request framing: no" in websockets[2]  # epsilon's caveat
    assert "Database connections over time: partial" in websockets[2]
    assert "(tie)" in pages["recommendations.md"]


def test_swapping_names_and_order_changes_no_answer(tmp_path: Path) -> None:
    synthetic.write_data(tmp_path / "one", _site_runs())
    swapped = _site_runs()[::-1]
    for run in swapped:  # every name reversed: an order by name would flip
        run["server"]["name"] = run["server"]["name"][::-1]
    synthetic.write_data(tmp_path / "two", swapped)
    first = render_pages(load_evidence(tmp_path / "one"))
    second = render_pages(load_evidence(tmp_path / "two"))
    needs, _ = load_rules(_known_checks())
    assert _pages_answers(first, needs) == _pages_answers(second, needs)


def _known_checks() -> set[str]:
    from harness.checks import all_checks

    return {check.id for check in all_checks()}
