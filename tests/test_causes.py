"""Whose behaviour decided an outcome: the harness records it with the result, validation holds
it to its rules, and the pages show a result Django decided as Django's, once per interface,
never as the server's failure; the rules that rank servers do not hold it against them."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from evidence.validation import check_data, load_evidence
from generators.needs import Need, satisfies
from generators.ranking import answer
from generators.render import render_pages
from harness.checks import Check, Finding, result_record
from tests import synthetic

CHECK = Check("chunked-request-body", "C", "H", "Q?", "T.", run=lambda _: Finding("yes", "."))
DETAIL = "Django's WSGIRequest reads wsgi.input up to CONTENT_LENGTH (django/core/handlers/wsgi.py)"


# --- what the harness records ----------------------------------------------------------------


def test_a_no_records_whose_behaviour_decided_it() -> None:
    django = result_record(CHECK, Finding("no", "Lost.", {}, "django", DETAIL))
    assert (django["cause"], django["cause_detail"]) == ("django", DETAIL)
    server = result_record(CHECK, Finding("partial", "Half."))
    assert server["cause"] == "server" and "cause_detail" not in server
    passed = result_record(CHECK, Finding("yes", "Fine."))
    assert "cause" not in passed and "cause_detail" not in passed


@pytest.mark.parametrize(
    ("finding", "words"),
    [
        (Finding("yes", "Fine.", {}, "django", DETAIL), "cause for a 'yes' outcome"),
        (Finding("no", "Lost.", {}, "django", " "), "without a detail"),
        (Finding("no", "Lost.", {}, "the moon", DETAIL), "unknown cause"),
    ],
)
def test_a_cause_out_of_its_rules_is_a_harness_bug(finding: Finding, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        result_record(CHECK, finding)


# --- validation ------------------------------------------------------------------------------


def _run(server_id: str, interface: str, outcome: str, **fields: Any) -> dict[str, Any]:
    """SYNTHETIC: a run whose first result is a chunked-request-body one (then the synthetic
    concurrency result, which the home page's chart links to)."""
    document = synthetic.run(server_id, name=server_id.title(), interface=interface)
    chunked = document["checks"][0] | {
        "id": "chunked-request-body",
        "outcome": outcome,
        "summary": f"{server_id}: {outcome}.",
        "evidence": {},
        **fields,
    }
    document["checks"].insert(0, chunked)
    return document


def _problems(tmp_path: Path, document: dict[str, Any]) -> list[str]:
    synthetic.write_data(tmp_path, [])
    path = tmp_path / "runs" / synthetic.MACHINE_ID / synthetic.CAPTURE_ID / "alpha.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return check_data(tmp_path)[1]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"outcome": "yes", "cause": "django", "cause_detail": DETAIL}, "checks/0/cause: 'django'"),
        ({"cause": "django"}, "checks/0/cause_detail: missing"),
        ({"cause": "server", "cause_detail": DETAIL}, "checks/0/cause_detail: given for"),
        ({"cause_detail": DETAIL}, "checks/0/cause_detail: given without a cause"),
        ({"cause": "nobody"}, "checks/0/cause: 'nobody'"),
    ],
)
def test_a_cause_against_its_rules_is_refused_by_field(
    tmp_path: Path, fields: dict[str, Any], problem: str
) -> None:
    document = _run("alpha", "wsgi", "no") | {}
    document["checks"][0] |= fields
    problems = _problems(tmp_path, document)
    assert any(problem in line for line in problems), problems


def test_older_results_without_a_cause_and_caused_ones_validate(tmp_path: Path) -> None:
    older = _run("alpha", "wsgi", "no")
    assert _problems(tmp_path / "older", older) == []
    caused = _run("alpha", "wsgi", "no", cause="django", cause_detail=DETAIL)
    assert _problems(tmp_path / "caused", caused) == []


# --- the pages -------------------------------------------------------------------------------


def _caused_site(tmp_path: Path, *, with_cause: bool = True) -> dict[str, Any]:
    """SYNTHETIC: two WSGI servers, one whose no Django decided and one that passed (it sets a
    CONTENT_LENGTH, say), and an ASGI server that passed."""
    cause = {"cause": "django", "cause_detail": DETAIL} if with_cause else {}
    runs = [
        _run("alpha", "wsgi", "no", **cause),
        _run("beta", "wsgi", "yes"),
        _run("gamma", "asgi", "yes"),
    ]
    synthetic.write_data(tmp_path, runs)
    return render_pages(load_evidence(tmp_path))


def _cell(matrix: str, cell_id: str) -> str:
    found = re.search(rf'id="{re.escape(cell_id)}" markdown="span">(.*?)</td>', matrix)
    assert found, f"no cell {cell_id}"
    return found.group(1)


def test_a_cell_django_decided_is_shown_as_django_s_with_django_s_row(tmp_path: Path) -> None:
    pages = _caused_site(tmp_path)
    matrix = pages["matrix.md"]
    alpha = html.unescape(_cell(matrix, "alpha/chunked-request-body"))
    assert ":simple-django:" in alpha and "sd-no" not in alpha
    assert "Django's no, not the server's" in alpha
    assert "Decided by Django, not by this server: " + DETAIL in alpha  # in its tooltip
    assert "sd-yes" in _cell(matrix, "beta/chunked-request-body")  # the server's own yes
    # Django's part, once per interface: a WSGI row, none for ASGI (nothing Django decided there).
    assert matrix.count('class="sd-handler"') == 1
    handler = _cell(matrix, "django-wsgi/chunked-request-body")
    assert "sd-no" in handler and "for 1 of 2 WSGI servers" in handler
    assert "## Django's part {: #djangos-part }" in matrix
    assert "for 1 of 2 configurations (Alpha)" in matrix
    server_page = pages["servers/alpha.md"]
    section = server_page[server_page.index("{: #chunked-request-body }") :]
    assert section.index(":simple-django:") < section.index("sd-evidence")
    assert "sd-no" not in section[: section.index("sd-evidence")]
    assert "Decided by Django, not by this server: Django&#x27;s WSGIRequest" in section
    assert "not the server's |" in html.unescape(pages["index.md"])
    export = json.loads(pages["data/matrix.json"])
    chunked = [r for r in export["results"] if r["check"] == "chunked-request-body"]
    assert [(r["server"], r["cause"], r["cause_detail"]) for r in chunked] == [
        ("alpha", "django", DETAIL),
        ("beta", None, None),
        ("gamma", None, None),
    ]
    outcomes = json.loads(pages["data/outcomes.json"])["results"]
    assert [r["cause"] for r in outcomes if r["check"] == "chunked-request-body"] == [
        "django",
        None,
        None,
    ]


def test_older_files_without_a_cause_render_as_before(tmp_path: Path) -> None:
    pages = _caused_site(tmp_path, with_cause=False)
    matrix = pages["matrix.md"]
    assert "sd-no" in _cell(matrix, "alpha/chunked-request-body")
    assert "sd-handler" not in matrix and "Django's part" not in matrix
    assert ":simple-django:" not in pages["index.md"] + pages["servers/alpha.md"]


UNDETERMINED = "Undetermined: the growth is in the worker processes, with the server and Django"


@pytest.mark.parametrize(
    "fields",
    [
        {"cause": "undetermined", "cause_detail": UNDETERMINED},
        # A file from before "undetermined" was a cause of its own: the check stored it as the
        # project's and said "undetermined" in its evidence.
        {"cause": "project", "cause_detail": UNDETERMINED, "evidence": {"cause": "undetermined"}},
    ],
)
def test_a_cause_the_check_could_not_tell_is_shown_as_nobody_s(
    tmp_path: Path, fields: dict[str, Any]
) -> None:
    runs = [_run("alpha", "wsgi", "no", **fields), _run("beta", "wsgi", "yes")]
    synthetic.write_data(tmp_path, runs)
    pages = render_pages(load_evidence(tmp_path))
    alpha = html.unescape(_cell(pages["matrix.md"], "alpha/chunked-request-body"))
    assert "no, cause not told apart, not held against the server" in alpha
    assert "our setup" not in alpha and "sd-no" not in alpha
    assert "sd-handler" not in pages["matrix.md"]  # nothing put on Django's row
    server_page = html.unescape(pages["servers/alpha.md"])
    assert "Not told apart from the server's own part: " + UNDETERMINED in server_page
    assert "Decided by" not in server_page[server_page.index("{: #chunked-request-body }") :]


# --- the rules that rank servers -------------------------------------------------------------


def test_a_no_django_decided_is_not_held_against_the_server() -> None:
    runs = [
        _run("alpha", "wsgi", "no", cause="django", cause_detail=DETAIL),
        _run("delta", "wsgi", "no", cause="server"),
        _run("epsilon", "wsgi", "no"),  # an older file: read as the server's
    ]
    need = Need("uploads", "Chunked uploads", {"chunked-request-body": ["yes"]})
    assert [run["server"]["id"] for run in runs if satisfies(run, [need])] == ["alpha"]
    result = answer([need], runs)
    (recommended,) = result.winners
    assert recommended.run["server"]["id"] == "alpha"
    assert [result["id"] for result in recommended.set_aside] == ["chunked-request-body"]
    assert {run["server"]["id"] for run, _ in result.excluded} == {"delta", "epsilon"}


def test_the_site_builds_strictly_with_django_s_part_linked(tmp_path: Path) -> None:
    runs = [
        _run("alpha", "wsgi", "no", cause="django", cause_detail=DETAIL),
        _run("beta", "wsgi", "yes"),
    ]
    synthetic.write_data(tmp_path / "data", runs)
    built = synthetic.build_site(tmp_path / "data", tmp_path / "site")
    assert built.returncode == 0, built.stderr[-3000:]
    matrix = (tmp_path / "site" / "matrix" / "index.html").read_text(encoding="utf-8")
    # The Django row's cell links to its explanation, which carries the anchor.
    assert 'href="#django-wsgi-chunked-request-body"' in matrix
    assert '<li id="django-wsgi-chunked-request-body">' in matrix
