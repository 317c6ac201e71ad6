"""Rendering: pages and the public matrix.json come from data/ only, with data escaped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evidence.files import DataError
from evidence.schema import SCHEMA_VERSION
from evidence.validation import load_evidence
from generators.escaping import safe_url
from generators.render import render_pages
from harness.validate import presentation_notes
from tests import synthetic


def test_matrix_export_has_the_public_shape(tmp_path: Path) -> None:
    synthetic.write_data(tmp_path, [synthetic.run("alpha"), synthetic.run("beta", name="Beta")])
    export = json.loads(render_pages(load_evidence(tmp_path))["data/matrix.json"])
    assert export["schema_version"] == SCHEMA_VERSION
    assert [server["id"] for server in export["servers"]] == ["alpha", "beta"]
    assert {"id", "name", "version", "interface"} <= set(export["servers"][0])
    assert {"id", "title"} <= set(export["checks"][0])
    result = export["results"][0]
    assert {"server", "check", "outcome", "summary", "evidence", "measured_at", "machine"} <= set(
        result
    )
    assert result["outcome"] in ("yes", "no", "partial", "not-applicable", "error")


def test_the_newest_capture_of_a_server_wins(tmp_path: Path) -> None:
    synthetic.write_data(
        tmp_path,
        [
            synthetic.run("alpha", outcome="no", capture="20260101T000000Z"),
            synthetic.run("alpha", outcome="yes", capture="20260202T000000Z"),
        ],
    )
    export = json.loads(render_pages(load_evidence(tmp_path))["data/matrix.json"])
    assert [result["outcome"] for result in export["results"]] == ["yes"]


def test_a_capture_of_a_few_checks_adds_to_the_row_instead_of_hiding_it(tmp_path: Path) -> None:
    # An older full run on one worker; a newer run of one other check on three; another
    # machine's run of a third check, between them, never fills the row.
    older = synthetic.run("alpha", outcome="no", capture="20260101T000000Z")
    newer = synthetic.run("alpha", outcome="yes", capture="20260202T000000Z")
    newer["checks"][0].update(id="slow-client", title="Slow client", group="Hazards")
    sizing = {"cpus": 1, "workers": 3, "threads": 8, "capacity": 24, "serves": "threads"}
    sizing.update(rule="Synthetic rule.", docs="https://example.org/docs", loop=None)
    newer["provenance"].update(workers=3, sizing=sizing)
    elsewhere = synthetic.run("alpha", outcome="yes", capture="20260115T000000Z")
    elsewhere["machine"] = "another-machine"
    elsewhere["checks"][0].update(id="sse", title="SSE", group="Streaming")
    synthetic.write_data(tmp_path, [older, newer])
    synthetic.write_data(tmp_path, [elsewhere])
    pages = render_pages(load_evidence(tmp_path))
    export = json.loads(pages["data/matrix.json"])
    shown = {(r["check"], r["outcome"]) for r in export["results"] if r["server"] == "alpha"}
    assert shown == {("slow-client", "yes"), ("concurrency-sync-sleep", "no")}
    assert "from capture 20260101T000000Z, 1 worker" in pages["matrix.md"]
    assert "from capture 20260101T000000Z, 1 worker" in pages["servers/alpha.md"]
    captures = {r["check"]: r["capture"] for r in export["results"] if r["server"] == "alpha"}
    assert captures["concurrency-sync-sleep"] == "20260101T000000Z"


def test_each_matrix_cell_links_to_its_evidence_anchor(tmp_path: Path) -> None:
    synthetic.write_data(tmp_path, [synthetic.run("alpha", outcome="partial")])
    pages = render_pages(load_evidence(tmp_path))
    assert 'href="../servers/alpha/#concurrency-sync-sleep"' in pages["matrix.md"]
    assert "{: #concurrency-sync-sleep }" in pages["servers/alpha.md"]


HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "[click](javascript:alert(1))",
    "![x](https://evil.example/x.png)",
    "| broken | table |",
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_data_text_cannot_inject_markup(tmp_path: Path, hostile: str) -> None:
    synthetic.write_data(
        tmp_path,
        [
            synthetic.run(
                "alpha",
                name=hostile,
                summary=hostile,
                notes=[hostile],
            )
        ],
    )
    pages = render_pages(load_evidence(tmp_path))
    for page in ("matrix.md", "servers/alpha.md", "servers/index.md"):
        text = pages[page]
        assert "<script" not in text and "<img" not in text
        assert "](javascript:" not in text and "![x](" not in text


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/a b(c)", "https://example.org/a%20b%28c%29"),
        ("javascript:alert(1)", "#"),
        ("data:text/html,<b>x</b>", "#"),
        ("https://example.org/\x01", "#"),
    ],
)
def test_only_http_urls_become_link_targets(url: str, expected: str) -> None:
    assert str(safe_url(url)) == expected


def test_invalid_data_is_refused_with_the_file_and_field(tmp_path: Path) -> None:
    document = synthetic.run("alpha")
    synthetic.write_data(tmp_path, [document])
    path = tmp_path / "runs" / synthetic.MACHINE_ID / synthetic.CAPTURE_ID / "alpha.json"
    broken = json.loads(path.read_text())
    broken["checks"][0]["outcome"] = "maybe"
    path.write_text(json.dumps(broken))
    with pytest.raises(DataError) as failure:
        render_pages(load_evidence(tmp_path))
    assert str(path) in str(failure.value)
    assert "checks/0/outcome" in str(failure.value)


def test_mkdocs_builds_the_site_strictly_from_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    synthetic.write_data(data, [synthetic.run("uvicorn"), synthetic.run("daphne", name="Beta")])
    site = tmp_path / "site"
    completed = synthetic.build_site(data, site)
    assert completed.returncode == 0, completed.stderr
    matrix = (site / "matrix" / "index.html").read_text()
    assert 'href="../servers/uvicorn/#concurrency-sync-sleep"' in matrix
    # Built without the repository's address (as on a laptop): the footer says so.
    assert "Built locally: repository address not given (set SERVING_DJANGO_REPO_URL)" in matrix
    assert (site / "servers" / "daphne" / "index.html").is_file()
    assert (
        json.loads((site / "data" / "matrix.json").read_text())["schema_version"] == SCHEMA_VERSION
    )


def test_mkdocs_refuses_invalid_data_naming_file_and_field(tmp_path: Path) -> None:
    data = tmp_path / "data"
    document = synthetic.run("uvicorn")
    document["checks"][0]["outcome"] = "maybe"
    synthetic.write_data(data, [])
    target = data / "runs" / synthetic.MACHINE_ID / synthetic.CAPTURE_ID / "uvicorn.json"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(document))
    completed = synthetic.build_site(data, tmp_path / "s")
    assert completed.returncode != 0
    assert "uvicorn.json: checks/0/outcome: 'maybe' is not one of" in completed.stderr


BIDI = "\u202eevil\u202c \u2066x\u2069 zero\u200bwidth"


def test_bidi_and_invisible_characters_are_shown_not_obeyed(tmp_path: Path) -> None:
    """A contributed name with bidi overrides reached <title> and the navigation; every
    rendered string now shows such characters as [U+XXXX] instead."""
    data = tmp_path / "data"
    run = synthetic.run("alpha", name=f"Alpha {BIDI}", summary=BIDI, notes=[BIDI])
    run["checks"][0]["summary"] = BIDI
    synthetic.write_data(data, [run])
    site = tmp_path / "site"
    completed = synthetic.build_site(data, site)
    assert completed.returncode == 0, completed.stderr
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        hidden = {
            char
            for char in text
            if char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b"
        }
        assert not hidden, (page, hidden)
    server_page = (site / "servers" / "alpha" / "index.html").read_text(encoding="utf-8")
    assert "[U+202E]evil[U+202C]" in server_page
    assert "<title>Alpha [U+202E]evil" in server_page


def test_a_server_that_had_exited_is_not_said_to_have_been_stopped(tmp_path: Path) -> None:
    run = synthetic.run("alpha")
    run["shutdown"] = {"signal": None, "exited_after_s": None, "forced": False, "exit_code": 3}
    synthetic.write_data(tmp_path, [run])
    page = render_pages(load_evidence(tmp_path))["servers/alpha.md"]
    assert "The server had already exited (exit code 3); no stop signal was sent." in page
    assert "Stopped with" not in page


def test_a_data_file_cannot_rename_a_server_or_move_its_links(tmp_path: Path) -> None:
    """What the site says about a defined server comes from harness/servers/<id>.toml; a
    contributed file's own name, summary and links are noted by validate and not shown."""
    run = synthetic.run("uvicorn", name="Totally Uvicorn", docs="https://evil.example/docs")
    run["server"]["homepage"] = "https://evil.example/"
    synthetic.write_data(tmp_path, [run])
    pages = render_pages(load_evidence(tmp_path))
    page = pages["servers/uvicorn.md"]
    assert "evil.example" not in page and "Totally Uvicorn" not in pages["matrix.md"]
    assert "uvicorn.dev" in page or "uvicorn.org" in page  # the definition's links
    notes = presentation_notes(tmp_path)
    assert any("server/homepage differs from" in note for note in notes)
    assert any("server/name differs from" in note for note in notes)
    # The synthetic check's question is not the harness's wording: noted for the reviewer.
    assert any(
        "checks/0/question differs from the harness's concurrency-sync-sleep" in n for n in notes
    )


def test_the_csv_downloads_hold_every_result_and_cannot_run_formulas(tmp_path: Path) -> None:
    import csv
    import io

    alpha = synthetic.run("alpha", summary='=HYPERLINK("https://evil.example")')
    synthetic.write_data(tmp_path, [alpha, synthetic.run("beta", name="Beta")])
    pages = render_pages(load_evidence(tmp_path))
    rows = list(csv.DictReader(io.StringIO(pages["data/matrix.csv"])))
    assert [(row["server"], row["check"], row["outcome"]) for row in rows] == [
        ("alpha", "concurrency-sync-sleep", "yes"),
        ("beta", "concurrency-sync-sleep", "yes"),
    ]
    assert rows[0]["summary"] == '\'=HYPERLINK("https://evil.example")'  # shown as text
    assert "Downloads:" in pages["matrix.md"] and "data/matrix.csv" in pages["matrix.md"]


def test_the_run_shown_is_the_newest_by_recorded_start_and_the_pages_say_which(
    tmp_path: Path,
) -> None:
    # A capture resumed a day later starts its files after a capture begun in between: the
    # recorded start times decide, not the capture ids.
    resumed = synthetic.run("alpha", outcome="yes", capture="20260101T000000Z")
    resumed.update(started_at=synthetic.at("20260101T000000Z", 86400))
    resumed.update(finished_at=synthetic.at("20260101T000000Z", 86460))
    between = synthetic.run("alpha", outcome="no", capture="20260101T120000Z")
    synthetic.write_data(tmp_path, [resumed, between, synthetic.run("beta", name="Beta")])
    pages = render_pages(load_evidence(tmp_path))
    export = json.loads(pages["data/matrix.json"])
    assert [r["outcome"] for r in export["results"] if r["server"] == "alpha"] == ["yes"]
    assert "newest run by its recorded start time" in pages["matrix.md"]
    assert (
        "`20260101T000000Z` on machine `synthetic-test-machine` (2 configurations)"
        in (pages["matrix.md"])
    )
    source = "`data/runs/synthetic-test-machine/20260101T000000Z/alpha.json`"
    assert f"`20260101T000000Z`, from {source}" in pages["servers/alpha.md"]


def test_each_capture_is_downloadable_as_one_reproducible_archive(tmp_path: Path) -> None:
    import io
    import zipfile

    data = tmp_path / "data"
    synthetic.write_data(
        data,
        [synthetic.run("alpha"), synthetic.run("alpha", capture="20260202T000000Z")],
        [synthetic.benchmark("alpha", [synthetic.h2load_figure([700.0] * 3)])],
    )
    pages = render_pages(load_evidence(data))
    archive = pages[f"data/captures/{synthetic.MACHINE_ID}/{synthetic.CAPTURE_ID}.zip"]
    assert isinstance(archive, bytes)
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        names = sorted(name for name in opened.namelist() if name.startswith("data/"))
        assert names == sorted(
            [
                f"data/machines/{synthetic.MACHINE_ID}.json",
                f"data/runs/{synthetic.MACHINE_ID}/{synthetic.CAPTURE_ID}/alpha.json",
                f"data/benchmarks/{synthetic.MACHINE_ID}/{synthetic.CAPTURE_ID}/alpha.json",
            ]
        )
        run = f"data/runs/{synthetic.MACHINE_ID}/{synthetic.CAPTURE_ID}/alpha.json"
        assert opened.read(run) == (data / run.removeprefix("data/")).read_bytes()
    assert (
        render_pages(load_evidence(data))[
            f"data/captures/{synthetic.MACHINE_ID}/{synthetic.CAPTURE_ID}.zip"
        ]
        == archive
    )  # the same data gives the same bytes
    methodology = pages["methodology.md"]
    assert f"(data/captures/{synthetic.MACHINE_ID}/20260202T000000Z.zip)" in methodology
    assert "To cite a figure" in methodology


def test_a_cell_shows_the_best_outcome_with_the_option_it_needed(tmp_path: Path) -> None:
    """SYNTHETIC: the default command said no, a documented option yes; another server claims
    the option does not exist. The matrix, matrix.json and the server page say so, with the
    option's words from the data escaped (there is no definition to take them from)."""
    optioned = synthetic.run("alpha", outcome="no", summary="Cut by the default command.")
    optioned["checks"][0]["options"] = [
        {
            "option": "graceful",
            "label": "--graceful <b>",
            "docs": "https://evil.example/",
            "outcome": "yes",
            "summary": "Finished with the option.",
            "measured_at": "2026-01-01T00:00:40.000Z",
            "evidence": {"wall_s": 2.0},
        }
    ]
    claiming = synthetic.run("beta", name="Beta", outcome="no")
    claiming["server"]["absent"] = [
        {"option": "--x", "checks": ["concurrency-sync-sleep"], "note": "beta 1.0 has no option"}
    ]
    synthetic.write_data(tmp_path, [optioned, claiming])

    pages = render_pages(load_evidence(tmp_path))

    export = json.loads(pages["data/matrix.json"])
    alpha, beta = (r for r in export["results"] if r["check"] == "concurrency-sync-sleep")
    assert alpha["outcome"] == "yes" and alpha["default_outcome"] == "no"
    assert alpha["condition"] == {"option": "graceful", "label": "--graceful <b>", "docs": None}
    assert beta["condition"] is None and beta["absent_options"] == ["beta 1.0 has no option"]
    matrix = pages["matrix.md"]
    assert 'option">with \\-\\-graceful &lt;b&gt;</small>' in matrix  # Markdown-escaped too
    assert "has no option</small>" in matrix
    page = pages["servers/alpha.md"]
    assert "With the default command:" in page and "Cut by the default command" in page
    assert "Finished with the option" in page and "evil.example" not in page


def test_a_server_page_leaves_its_evidence_to_the_file_its_boxes_load(tmp_path: Path) -> None:
    """The page names each check's and option's part of servers/evidence/<id>.json; the
    evidence itself is only in that file (docs/javascripts/evidence.js shows it on demand)."""
    run = synthetic.run("alpha", outcome="no")
    run["checks"][0]["evidence"] = {"marker": "evidence-of-the-default"}
    run["checks"][0]["options"] = [
        {
            "option": "graceful",
            "label": "--graceful",
            "docs": "https://example.org/graceful",
            "outcome": "yes",
            "summary": "Finished with the option.",
            "measured_at": "2026-01-01T00:00:40.000Z",
            "evidence": {"marker": "evidence-of-the-option"},
        }
    ]
    synthetic.write_data(tmp_path, [run])
    pages = render_pages(load_evidence(tmp_path))
    page = pages["servers/alpha.md"]
    assert "evidence-of-the" not in page
    document = json.loads(pages["servers/evidence/alpha.json"])
    check = document["checks"]["concurrency-sync-sleep"]
    assert check["evidence"] == {"marker": "evidence-of-the-default"}
    assert check["options"] == [
        {"label": "--graceful", "evidence": run["checks"][0]["options"][0]["evidence"]}
    ]
    assert document["provenance"] == run["provenance"]
    link = '(evidence/alpha.json){ .sd-evidence-source data-key="concurrency-sync-sleep"'
    assert page.count(link) == 2 and f'{link} data-option="0" }}' in page
    assert '(evidence/alpha.json){ .sd-evidence-source data-key="provenance" }' in page


def test_the_outcomes_download_is_the_matrix_without_evidence(tmp_path: Path) -> None:
    synthetic.write_data(tmp_path, [synthetic.run("alpha"), synthetic.run("beta", name="Beta")])
    pages = render_pages(load_evidence(tmp_path))
    full, compact = json.loads(pages["data/matrix.json"]), json.loads(pages["data/outcomes.json"])
    assert compact["servers"] == full["servers"]
    assert compact["results"] == [
        {key: result[key] for key in ("server", "check", "outcome", "desync_inputs", "cause")}
        for result in full["results"]
    ]
    assert len(pages["data/outcomes.json"]) < len(pages["data/matrix.json"]) / 2


def test_a_server_page_gives_the_production_count_and_how_to_scale_it(tmp_path: Path) -> None:
    """The production command carries the workers and threads the run was sized with, and the
    page says the rule for the reader's own cores and the event loop."""
    run = synthetic.run("alpha")
    run["server"]["commands"]["http"] = ["alpha", "-w", "{workers}", "--threads", "{threads}"]
    run["provenance"]["workers"] = 3
    run["provenance"]["sizing"] = {
        "cpus": 1,
        "workers": 3,
        "threads": 8,
        "capacity": 24,
        "serves": "threads",
        "rule": "(2 x CPU cores) + 1 worker processes",
        "docs": "https://example.org/design",
        "loop": "uvloop, synthetic",
    }
    synthetic.write_data(tmp_path, [run])
    page = render_pages(load_evidence(tmp_path))["servers/alpha.md"]
    assert "alpha -w 3 --threads 8" in page
    assert "Sized for 1 CPU, the CPU each server is given here. On your cores: " in page
    assert "2 x CPU cores" in page and "example.org/design" in page
    assert "3 worker process(es) x 8 thread(s), 24 sync requests at once" in page
    assert "| Event loop | uvloop, synthetic |" in page
