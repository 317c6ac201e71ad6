"""The smuggling grid page: one row per input of the catalog, one column per configuration,
disagreements marked, each input's severity and what happened to it behind nginx, the rule
stated, and the evidence's text (untrusted) shown escaped. Older runs (no severity, no
behind-nginx variant) still render, and /pick/'s no-smuggling need refuses a run that shows an
input that desyncs, whatever its outcome."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evidence.validation import load_evidence
from generators.definitions import presented_checks
from generators.needs import NeedsError, load_needs
from generators.render import render_pages
from tests import synthetic

CHECK_ID = "request-smuggling"


def _catalog_cases() -> list[dict[str, str]]:
    return next(check for check in presented_checks() if check["id"] == CHECK_ID)["cases"]


def _smuggling_run(
    server_id: str,
    classes: dict[str, str],
    detail: str = "HTTP 400",
    *,
    outcome: str = "yes",
    severities: dict[str, str] | None = None,
    behind_nginx: dict[str, Any] | None = None,
) -> dict:
    """A run of the check; with ``severities`` (input id -> severity, "fine" by default) as the
    harness writes it since severities were recorded, without as an older run."""
    run = synthetic.run(server_id, name=server_id.title())
    cases: list[dict[str, Any]] = [
        {
            "id": case["id"],
            "class": classes.get(case["id"], "rejected"),
            "detail": detail,
            "sent": "POST /echo HTTP/1.1\\r\\n",
        }
        | ({"severity": severities.get(case["id"], "fine")} if severities is not None else {})
        for case in _catalog_cases()
    ]
    evidence: dict[str, Any] = {"cases": cases}
    if behind_nginx is not None:
        evidence["behind_nginx"] = behind_nginx
    run["checks"].append(
        {
            **run["checks"][0],
            "id": CHECK_ID,
            "title": "Ambiguous request framing",
            "group": "Production hazards",
            "timed": False,
            "outcome": outcome,
            "evidence": evidence,
        }
    )
    return run


def _behind_nginx(affected: str = "") -> dict[str, Any]:
    return {
        "measured": True,
        "nginx_version": "1.22.1",
        "cases": [
            {
                "id": case["id"],
                "nginx": "forwarded" if case["id"] == affected else "rejected",
                "detail": "nginx answered HTTP 400 itself",
                "nginx_log": ['client sent "Content-Length" and "Transfer-Encoding" headers'],
                "affected": case["id"] == affected,
                "second_detail": "another request reached Django: helloGET /echo",
            }
            for case in _catalog_cases()
        ],
    }


def _cell(page: str, row_id: str, column: int) -> str:
    """The text of one grid cell: the ``column``-th (0 = first server) of the input's row."""
    row = next(line for line in page.splitlines() if f'href="#{row_id}"' in line)
    return row.split("<td>")[column + 1].split("</td>")[0]


def test_every_catalog_input_is_a_row_and_disagreements_are_marked(tmp_path: Path) -> None:
    first = _catalog_cases()[0]["id"]
    synthetic.write_data(
        tmp_path,
        [_smuggling_run("alpha", {}), _smuggling_run("beta", {first: "smuggled"})],
    )
    page = render_pages(load_evidence(tmp_path))["smuggling.md"]
    # One row per input, after the outcome row and the behind-nginx row.
    assert page.count('<th scope="row">') == len(_catalog_cases()) + 2
    assert '<th scope="row">Outcome</th>' in page and '<th scope="row">Behind nginx</th>' in page
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


def test_the_page_states_the_rule_and_each_inputs_risk(tmp_path: Path) -> None:
    synthetic.write_data(tmp_path, [_smuggling_run("alpha", {}, severities={})])
    page = render_pages(load_evidence(tmp_path))["smuggling.md"]
    # The outcome words link to the glossary, here on their first use.
    assert (
        "A configuration is **[no](glossary.md#no)** when some input is DESYNC or a second client"
        " behind nginx" in " ".join(page.split())
    )
    assert "**[partial](glossary.md#partial)** when some input is lenient and none is" in page
    assert "chunk sizes: 12 of 19 inputs" in page
    assert page.count("<small>risk: desync</small>") == 12
    assert page.count("<small>risk: lenient</small>") == 7
    assert "Risk: **desync**. Framing\\. A server that takes the Content\\-Length" in page


def test_a_cell_shows_the_recorded_severity_and_what_nginx_did(tmp_path: Path) -> None:
    run = _smuggling_run(
        "alpha",
        {"cl-and-te": "smuggled", "uppercase-chunked": "accepted"},
        outcome="partial",
        severities={"cl-and-te": "lenient"},
        behind_nginx=_behind_nginx(affected="uppercase-chunked"),
    )
    synthetic.write_data(tmp_path, [run])
    page = render_pages(load_evidence(tmp_path))["smuggling.md"]
    kept_open = _cell(page, "cl-and-te", 0)
    assert "SMUGGLED: lenient</span>" in kept_open and "*" not in kept_open
    assert "behind nginx: <span" in kept_open and "nginx rejected it" in kept_open
    assert "(client sent &quot;Content-Length&quot; and &quot;Transfer-Encoding&quot;" in kept_open
    spoiled = _cell(page, "uppercase-chunked", 0)
    assert "second client AFFECTED" in spoiled and "helloGET /echo" in spoiled
    header = next(line for line in page.splitlines() if "Behind nginx</th>" in line)
    assert "second client affected after 1" in header


def test_an_older_run_renders_with_derived_severities_and_no_nginx_column(tmp_path: Path) -> None:
    older = _smuggling_run("alpha", {"cl-and-te": "misread", "nul-in-value": "misread"})
    synthetic.write_data(tmp_path, [older])
    page = render_pages(load_evidence(tmp_path))["smuggling.md"]
    assert "misread: DESYNC*</span>" in _cell(page, "cl-and-te", 0)
    assert "misread: lenient*</span>" in _cell(page, "nul-in-value", 0)
    assert "rejected: fine</span>" in _cell(page, "two-hosts", 0)  # no rule changed that
    assert "behind nginx" not in _cell(page, "cl-and-te", 0)  # the row says it once
    header = next(line for line in page.splitlines() if "Behind nginx</th>" in line)
    assert "not measured behind nginx" in header and "run made before this variant" in header
    assert "judged by the earlier rule (before risk)" in page


def test_the_no_smuggling_need_refuses_a_run_with_a_desync_input(tmp_path: Path) -> None:
    older_partial = _smuggling_run("alpha", {"cl-and-te": "misread"}, outcome="partial")
    lenient_partial = _smuggling_run(
        "beta",
        {"nul-in-value": "misread"},
        outcome="partial",
        severities={"nul-in-value": "lenient"},
    )
    synthetic.write_data(tmp_path, [older_partial, lenient_partial])
    pages = render_pages(load_evidence(tmp_path))
    row = next(line for line in pages["pick.md"].splitlines() if line.startswith("| No request"))
    assert "and no input that [desyncs](glossary.md#request-smuggling)" in row
    assert "servers/beta.md" in row and "servers/alpha.md" not in row
    outcomes = json.loads(pages["data/outcomes.json"])["results"]
    smuggling = {r["server"]: r["desync_inputs"] for r in outcomes if r["check"] == CHECK_ID}
    assert smuggling == {"alpha": ["cl-and-te"], "beta": []}


def test_a_need_may_refuse_desync_inputs_of_the_smuggling_check_only(tmp_path: Path) -> None:
    needs = tmp_path / "needs.toml"
    needs.write_text(
        '[[need]]\nid = "x"\nlabel = "X"\nrequire = { "tls" = ["yes"] }\nno_desync = ["tls"]\n'
    )
    with pytest.raises(NeedsError, match="need/0/no_desync: may name only 'request-smuggling'"):
        load_needs({"tls", CHECK_ID}, needs)
