"""The day-two pages: a row per configuration and per part a check tried, figures read from the
evidence (and "not recorded" where it lacks them), and the operation x configuration index."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from generators.glossary import Terms
from generators.operations import (
    NOT_RECORDED,
    TABLES,
    operation_navigation,
    operation_page,
    operations_index,
)
from generators.render import environment
from harness.checks.catalog import CATALOG_PATH

CHECKS = [
    {"id": "sse", "title": "SSE", "group": "Protocols", "question": "q", "thresholds": "t"},
    {
        "id": "client-disconnect",
        "title": "Work stopped when the client leaves",
        "group": "Operations",
        "question": "Does the work stop?",
        "thresholds": "Stopped within 0.75 s.",
    },
]


def scenario(title: str, finally_s: Any, verdict: str = "stopped") -> dict[str, Any]:
    return {
        "title": title,
        "verdict": verdict,
        "decided_by": "server",
        "seconds_after_leaving": {"finally": finally_s, "request_finished": 0.002},
    }


def run(server_id: str, evidence: dict[str, Any] | None) -> dict[str, Any]:
    checks = []
    if evidence is not None:
        checks.append(
            {
                "id": "client-disconnect",
                "title": "Work stopped when the client leaves",
                "outcome": "yes",
                "summary": "Stopped.",
                "evidence": evidence,
                "condition": None,
                "decided_by": None,
                "cause_detail": "",
                "options": [],
            }
        )
    return {"server": {"id": server_id, "name": server_id.title()}, "checks": checks}


def site(*runs: dict[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(runs=list(runs), checks=CHECKS)


def test_each_part_of_the_evidence_is_a_row_with_its_figures() -> None:
    evidence = {"scenarios": [scenario("the stream", 0.0005), scenario("the view", 4.52)]}
    page = operation_page(site(run("uvicorn", evidence)), CHECKS[1])

    (entry,) = page["configurations"]
    assert [row["part"] for row in entry["rows"]] == ["the stream", "the view"]
    assert entry["rows"][0]["cells"] == ["stopped", "server", "0 ms", "2 ms"]
    assert entry["rows"][1]["cells"][2] == "4.52 s"


def test_a_figure_the_evidence_lacks_or_garbles_is_not_recorded_never_zero() -> None:
    evidence = {"scenarios": [scenario("the stream", None), scenario("odd", "fast"), "junk"]}
    page = operation_page(site(run("uvicorn", evidence)), CHECKS[1])

    rows = page["configurations"][0]["rows"]
    assert [row["part"] for row in rows] == ["the stream", "odd"]
    assert [row["cells"][2] for row in rows] == [NOT_RECORDED, NOT_RECORDED]


def test_a_configuration_without_the_check_is_shown_as_not_measured() -> None:
    page = operation_page(site(run("daphne", None)), CHECKS[1])

    assert page["configurations"][0]["result"] is None
    template = environment().get_template("operation.md.j2")
    text = template.render(page=page, term=Terms("operations/x.md"))
    assert "Not measured" in text


def test_the_index_has_every_operation_for_every_configuration_and_the_navigation_too() -> None:
    shown = site(run("uvicorn", {"scenarios": []}), run("daphne", None))

    index = operations_index(shown)

    assert [check["id"] for check in index["checks"]] == ["client-disconnect"]
    assert [[r and r["outcome"] for r in row["results"]] for row in index["rows"]] == [
        ["yes"],
        [None],
    ]
    assert operation_navigation(shown) == [
        {"All operations": "operations/index.md"},
        {"Work stopped when the client leaves": "operations/client-disconnect.md"},
    ]


def test_text_from_the_evidence_is_escaped_on_the_page() -> None:
    evidence = {"scenarios": [scenario("[x](javascript:alert(1)) <b>", 0.1)]}
    page = operation_page(site(run("uvicorn", evidence)), CHECKS[1])

    template = environment().get_template("operation.md.j2")
    text = template.render(page=page, term=Terms("operations/x.md"))

    assert "<b>" not in text and "](javascript" not in text
    assert "&lt;b&gt;" in text


def test_every_operations_check_in_the_catalog_declares_the_figures_its_page_shows() -> None:
    catalog = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))["checks"]
    operations = {check["id"] for check in catalog if check["group"] == "Operations"}

    assert operations and operations <= set(TABLES)


def test_figures_of_the_whole_check_are_listed_below_its_rows() -> None:
    check = {**CHECKS[1], "id": "long-work"}
    evidence = {
        "request": {"ended": "complete", "ended_after_s": 60.3, "view": {"steps": 60}},
        "stream": {"ended": "reset", "events": 31, "events_expected": 61},
        "short_requests": {"sent": 122, "failed": 0, "worst_latency_s": "slow"},
    }
    result = {**run("uvicorn", evidence)["checks"][0], "id": "long-work"}
    page = operation_page(site({"server": {"id": "u", "name": "U"}, "checks": [result]}), check)

    (entry,) = page["configurations"]
    assert [row["cells"] for row in entry["rows"]] == [
        ["complete", "60.30 s", NOT_RECORDED, "60"],
        ["reset", NOT_RECORDED, "31 of 61", NOT_RECORDED],
    ]
    assert entry["totals"] == {
        "Short requests beside them": "0 failed of 122",
        "Slowest short request": NOT_RECORDED,
    }
