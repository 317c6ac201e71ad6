"""The held-out agreement: statements read and validated from TOML, compared with synthetic
runs, and rendered on the methodology page (generators/held_out.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from generators.definitions import presented_checks, presented_servers
from generators.held_out import (
    AGREE,
    DISAGREE,
    HELD_OUT_FILE,
    NOT_MEASURED,
    HeldOutError,
    counts,
    held_out_comparisons,
    load_statements,
)
from generators.model import Site, presented_result
from generators.render import environment
from tests import synthetic

CHECKS = {
    "keepalive-idle": {"id": "keepalive-idle"},
    "header-limits": {"id": "header-limits"},
    "request-smuggling": {"id": "request-smuggling", "cases": [{"id": "cl-and-te"}]},
}
CONFIGURATIONS = {"alpha", "beta", "gamma"}


def statement_toml(**fields: str) -> str:
    values = {
        "configuration": "alpha",
        "check": "header-limits",
        "source_kind": "docs",
        "url": "https://example.org/docs#limits",
        "says": "Header fields are bounded.",
        "implies": "yes",
        "pinned_version": "alpha 1.0",
        **fields,
    }
    body = "".join(f"{key} = {value!r}\n".replace("'", '"') for key, value in values.items())
    return "[[statement]]\n" + body


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "held_out.toml"
    path.write_text(text, encoding="utf-8")
    return path


def shown_run(server_id: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    """A synthetic run as the site shows it: each result through the matrix's own
    presentation, so options and defaults are read the way the matrix reads them."""
    document = synthetic.run(server_id)
    document["checks"] = [presented_result(result, {}) for result in results]
    return document


def result(check_id: str, outcome: str, **extra: Any) -> dict[str, Any]:
    return {"id": check_id, "outcome": outcome, "summary": f"Synthetic {outcome}.", **extra}


def site_of(*runs: dict[str, Any]) -> Site:
    return Site(runs=list(runs), all_runs=[], checks=[], machines={}, sources={})


def verdicts(text: str, tmp_path: Path, site: Site) -> list[tuple[str, str, str]]:
    statements = load_statements(write(tmp_path, text), CONFIGURATIONS, CHECKS)
    return [
        (c.statement.configuration, c.statement.check, c.verdict)
        for c in held_out_comparisons(site, statements)
    ]


def test_agreeing_and_disagreeing_cells_disagreements_first(tmp_path: Path) -> None:
    site = site_of(
        shown_run("alpha", [result("header-limits", "yes")]),
        shown_run("beta", [result("header-limits", "partial")]),
    )
    text = statement_toml(configuration="alpha") + statement_toml(configuration="beta")
    assert verdicts(text, tmp_path, site) == [
        ("beta", "header-limits", DISAGREE),
        ("alpha", "header-limits", AGREE),
    ]


def test_a_cell_no_run_measured_is_not_measured(tmp_path: Path) -> None:
    site = site_of(shown_run("alpha", [result("header-limits", "yes")]))
    text = statement_toml(configuration="gamma") + statement_toml(check="keepalive-idle")
    compared = verdicts(text, tmp_path, site)
    assert compared == [
        ("alpha", "keepalive-idle", NOT_MEASURED),
        ("gamma", "header-limits", NOT_MEASURED),
    ]


def test_a_default_statement_is_compared_with_the_default_not_the_option(
    tmp_path: Path,
) -> None:
    # The matrix shows yes (reached with an option); the default command measured partial.
    option = {"option": "keep-alive-75", "label": "--keep-alive 75", "outcome": "yes"}
    site = site_of(
        shown_run(
            "alpha",
            [result("keepalive-idle", "partial", options=[{**option, "summary": "Kept 65 s."}])],
        )
    )
    default = statement_toml(check="keepalive-idle", implies="partial")
    with_option = statement_toml(check="keepalive-idle", implies="yes", option="keep-alive-75")
    statements = load_statements(write(tmp_path, default + with_option), CONFIGURATIONS, CHECKS)
    compared = held_out_comparisons(site, statements)
    assert [(c.statement.option, c.measured, c.verdict) for c in compared] == [
        (None, "partial", AGREE),
        ("keep-alive-75", "yes", AGREE),
    ]
    assert (compared[0].shown, compared[0].shown_with) == ("yes", "--keep-alive 75")


def test_a_result_carried_from_an_earlier_run_names_no_release(tmp_path: Path) -> None:
    carried = {
        "capture": "20250101T000000Z",
        "source": "runs/x.json",
        "setup": "",
        "same_setup": True,
    }
    site = site_of(shown_run("alpha", [result("header-limits", "yes", carried_from=carried)]))
    statements = load_statements(write(tmp_path, statement_toml()), CONFIGURATIONS, CHECKS)
    (compared,) = held_out_comparisons(site, statements)
    assert (compared.verdict, compared.measured_on) == (AGREE, None)
    fresh = held_out_comparisons(
        site_of(shown_run("alpha", [result("header-limits", "yes")])), statements
    )
    assert fresh[0].measured_on == "alpha 1.0"


def test_a_smuggling_input_statement_is_compared_with_that_input_class(tmp_path: Path) -> None:
    cases = {"cases": [{"id": "cl-and-te", "class": "smuggled"}]}
    site = site_of(shown_run("alpha", [result("request-smuggling", "no", evidence=cases)]))
    text = statement_toml(check="request-smuggling", case="cl-and-te", implies="rejected")
    statements = load_statements(write(tmp_path, text), CONFIGURATIONS, CHECKS)
    (compared,) = held_out_comparisons(site, statements)
    assert (compared.measured, compared.verdict) == ("smuggled", DISAGREE)
    assert counts([compared]) == {DISAGREE: 1, AGREE: 0, NOT_MEASURED: 0}


@pytest.mark.parametrize(
    ("text", "named"),
    [
        # A good statement first: the error names the bad one by its number.
        (
            statement_toml() + statement_toml(configuration="omega"),
            "statement 2: field 'configuration' is 'omega'",
        ),
        (statement_toml(check="no-such-check"), "field 'check' is 'no-such-check'"),
        (statement_toml(implies="maybe"), "field 'implies' is 'maybe'"),
        (statement_toml(source_kind="blog"), "field 'source_kind' is 'blog'"),
        (statement_toml(url="http://example.org/"), "field 'url'"),
        (statement_toml(case="cl-and-te"), "field 'case' is 'cl-and-te'"),
        (
            statement_toml(check="request-smuggling", case="bare-tab", implies="rejected"),
            "field 'case' is 'bare-tab'",
        ),
        (
            statement_toml(check="request-smuggling", case="cl-and-te", implies="yes"),
            "field 'implies' is 'yes'",
        ),
        (statement_toml(says=""), "field 'says' is missing"),
        (statement_toml() + 'extra = "x"\n', "unknown field(s) ['extra']"),
        ("[[statement]\nconfiguration = ", "cannot be read"),
        ('title = "no statements"\n', "unknown top-level field(s) ['title']"),
        ("", "no [[statement]] tables"),
    ],
)
def test_a_bad_statement_file_is_refused_naming_file_and_field(
    tmp_path: Path, text: str, named: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(HeldOutError) as raised:
        load_statements(path, CONFIGURATIONS, CHECKS)
    assert str(path) in str(raised.value)
    assert named in str(raised.value)


def test_the_committed_statements_name_known_configurations_checks_and_outcomes() -> None:
    checks = {check["id"]: check for check in presented_checks()}
    statements = load_statements(HELD_OUT_FILE, set(presented_servers()), checks)
    assert len(statements) >= 25
    assert len({statement.configuration for statement in statements}) >= 8


def test_the_section_escapes_the_statements_and_lists_disagreements_first(
    tmp_path: Path,
) -> None:
    site = site_of(
        shown_run("alpha", [result("header-limits", "yes")]),
        shown_run("beta", [result("header-limits", "partial")]),
    )
    hostile = "A <script>x</script> | [link](javascript:y) *bold*"
    text = statement_toml(says=hostile) + statement_toml(configuration="beta")
    alpha, beta = load_statements(write(tmp_path, text), CONFIGURATIONS, CHECKS)
    # The loader refuses such a URL; the template must not trust it either.
    statements = [alpha, dataclasses.replace(beta, url="javascript:alert(1)")]
    compared = held_out_comparisons(site, statements)
    page = (
        environment()
        .get_template("_held_out.md.j2")
        .render(held_out=compared, held_out_counts=counts(compared))
    )
    assert "1 of 2 statements agree with what we measured,\n1 disagree" in page
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    assert rows[0].startswith("| `beta`") and rows[0].endswith("| **DISAGREE** |")
    assert rows[1].startswith("| `alpha`") and rows[1].endswith("| agree |")
    assert "| yes, on alpha 1\\.0 | agree |" in rows[1]  # the release we measured
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "\\|" in rows[1] and "\\[link\\]" in rows[1]
    assert "javascript:" not in rows[0]  # an unsafe URL becomes '#'
