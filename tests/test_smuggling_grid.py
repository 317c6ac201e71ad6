"""The smuggling grid page: one row per input of the catalog, one column per configuration,
disagreements marked, and the evidence's text (untrusted) shown escaped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evidence.validation import load_evidence
from generators.definitions import presented_checks
from generators.render import render_pages
from tests import synthetic

CHECK_ID = "request-smuggling"


def _catalog_cases() -> list[dict[str, str]]:
    return next(check for check in presented_checks() if check["id"] == CHECK_ID)["cases"]


def _smuggling_run(server_id: str, classes: dict[str, str], detail: str = "HTTP 400") -> dict:
    run = synthetic.run(server_id, name=server_id.title())
    cases: list[dict[str, Any]] = [
        {
            "id": case["id"],
            "class": classes.get(case["id"], "rejected"),
            "detail": detail,
            "sent": "POST /echo HTTP/1.1\\r\\n",
        }
        for case in _catalog_cases()
    ]
    run["checks"].append(
        {
            **run["checks"][0],
            "id": CHECK_ID,
            "title": "Ambiguous request framing",
            "group": "Production hazards",
            "timed": False,
            "outcome": "yes",
            "evidence": {"cases": cases},
        }
    )
    return run


def test_every_catalog_input_is_a_row_and_disagreements_are_marked(tmp_path: Path) -> None:
    first = _catalog_cases()[0]["id"]
    synthetic.write_data(
        tmp_path,
        [_smuggling_run("alpha", {}), _smuggling_run("beta", {first: "smuggled"})],
    )
    page = render_pages(load_evidence(tmp_path))["smuggling.md"]
    assert page.count('<th scope="row">') == len(_catalog_cases())
    assert page.count('class="sd-disagree"') == 1
    assert "1 of " in page and "SMUGGLED" in page
    assert 'href="../servers/beta/#request-smuggling"' in page


def test_agreeing_servers_mark_nothing(tmp_path: Path) -> None:
    synthetic.write_data(tmp_path, [_smuggling_run("alpha", {}), _smuggling_run("beta", {})])
    page = render_pages(load_evidence(tmp_path))["smuggling.md"]
    assert "sd-disagree" not in page
    assert "0 of " in page


def test_evidence_text_in_the_grid_is_escaped(tmp_path: Path) -> None:
    hostile = "<script>alert(1)</script>"
    synthetic.write_data(tmp_path, [_smuggling_run("alpha", {}, detail=hostile)])
    page = render_pages(load_evidence(tmp_path))["smuggling.md"]
    assert "<script" not in page
    assert "&lt;script&gt;" in page


def test_without_the_check_the_page_says_so(tmp_path: Path) -> None:
    synthetic.write_data(tmp_path, [synthetic.run("alpha")])
    page = render_pages(load_evidence(tmp_path))["smuggling.md"]
    assert "No shown run has the request-smuggling check yet." in page
