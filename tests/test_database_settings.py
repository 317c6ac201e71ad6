"""The recommendations page's tally of Django's database settings, read from the
database-connections check's setups on every configuration: which setting held, which lost
requests once the database ended idle connections, which let connections grow; the pool's
size shown as the range the configurations used; labels from a data file shown as text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evidence.validation import load_evidence
from generators import render
from generators.database_settings import best_settings, database_settings
from tests import synthetic


def _setup(setup: str, label: str, outcome: str, **figures: Any) -> dict[str, Any]:
    record = {"after_idle": {"failed": 0}, "left_after_load": 0, "bound": 10}
    return {"setup": setup, "label": label, "outcome": outcome, **record, **figures}


def _run(name: str, pool_size: int, persistent: dict[str, Any]) -> dict[str, Any]:
    """SYNTHETIC: a shown run whose database-connections result tried three setups."""
    pool = f"Django's psycopg pool, {pool_size} connections per process"
    setups = [
        _setup("pool", pool, "partial", after_idle={"failed": 3}),
        _setup("pool-health-checks", f"{pool}, with CONN_HEALTH_CHECKS", "yes"),
        persistent,
    ]
    result = {"id": "database-connections", "outcome": "partial", "evidence": {"setups": setups}}
    return {"server": {"name": name}, "checks": [result]}


PERSISTENT = "persistent connections, CONN_MAX_AGE=60 | <b>"
RUNS = [
    _run("Alpha", 1, _setup("conn-max-age-60", PERSISTENT, "partial", after_idle={"failed": 2})),
    _run("Beta", 10, _setup("conn-max-age-60", PERSISTENT, "no", left_after_load=40)),
    {"server": {"name": "Gamma"}, "checks": []},  # did not run the check: not counted
]


def test_each_setting_is_tallied_across_the_configurations_that_ran_it() -> None:
    pool, checked, persistent = database_settings(RUNS)
    assert (pool.setup, pool.held, pool.failed_after_idle) == ("pool", [], ["Alpha", "Beta"])
    assert pool.shown_label == "Django's psycopg pool, 1 to 10 connections per process"
    assert (checked.held, checked.measured) == (["Alpha", "Beta"], 2)
    assert (persistent.failed_after_idle, persistent.grew) == (["Alpha"], ["Beta"])
    assert best_settings([pool, checked, persistent]) == [checked]


def test_the_recommendations_page_shows_the_tally_with_labels_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The synthetic runs the page is rendered from carry no database evidence; the tally of
    # RUNS stands in for theirs, so that the page's own template renders it.
    monkeypatch.setattr(render, "database_settings", lambda runs: database_settings(RUNS))
    synthetic.write_data(tmp_path, [synthetic.run("alpha")])
    page = render.render_pages(load_evidence(tmp_path))["recommendations.md"]
    section = page[page.index("{: #database-settings }") :]
    assert "Held on the most configurations (2 of 2 measured" in section
    assert "| Django&#x27;s psycopg pool, 1 to 10 connections per process | 0 of 2 |" in section
    assert "CONN\\_MAX\\_AGE=60 \\| &lt;b&gt; | 0 of 2 | 1: Alpha | 1: Beta | none |" in section
    assert "<b>" not in page


def test_without_the_check_there_is_no_section(tmp_path: Path) -> None:
    synthetic.write_data(tmp_path, [synthetic.run("alpha")])
    page = render.render_pages(load_evidence(tmp_path))["recommendations.md"]
    assert "database-settings" not in page
