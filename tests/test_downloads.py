"""The downloads: each capture's zip (its data files, the JSON Schemas they follow and a README
written from them) and data/benchmarks.csv in tidy columns. SYNTHETIC data only."""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from pathlib import Path
from typing import Any

import markdown

from evidence.documents import write_document
from evidence.layout import DataDir
from evidence.schema import SCHEMA_VERSION, SCHEMAS_DIR
from evidence.validation import load_evidence
from generators.capture_readme import schema_of
from generators.render import render_pages
from tests import synthetic

ARCHIVE = f"data/captures/{synthetic.MACHINE_ID}/{synthetic.CAPTURE_ID}.zip"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
# A contributed machine description that tries to add a heading, a link, a script and to
# reorder the text around it (a bidi override), and to close a code span early.
HOSTILE = "Evil`` </code><script>alert(1)</script>\n# Owned [click](javascript:alert(1)) \u202e"


def _capture_file(capture: str = synthetic.CAPTURE_ID) -> dict[str, Any]:
    """A SYNTHETIC capture's own file: complete, one configuration selected."""
    return {
        "schema_version": SCHEMA_VERSION,
        "capture": capture,
        "machine": synthetic.MACHINE_ID,
        "profile": "quick",
        "started_at": synthetic.at(capture, 0),
        "finished_at": synthetic.at(capture, 300),
        "state": "complete",
        "selection": {"servers": ["alpha"], "checks": [], "scenarios": []},
        "options": {"jobs": 1, "locust_workers": 1},
        "git_commit": COMMIT,
        "git_dirty": False,
        "code_fingerprint": None,
        "resumed_at": [],
        "not_captured": {},
    }


def _write_capture(data: Path, machine: dict[str, Any] | None = None) -> None:
    """One capture of alpha (a run, a benchmark file, its own file) on a machine described by
    ``machine``."""
    layout = DataDir(data)
    if machine is not None:
        write_document(layout.machine_path(synthetic.MACHINE_ID), machine, "machine")
    run = synthetic.run("alpha")
    run["provenance"]["git_commit"] = COMMIT
    synthetic.write_data(
        data, [run], [synthetic.benchmark("alpha", [synthetic.h2load_figure([700.0] * 3)])]
    )
    write_document(
        layout.capture_path(synthetic.MACHINE_ID, synthetic.CAPTURE_ID), _capture_file(), "capture"
    )


def _archive(data: Path) -> bytes:
    archive = render_pages(load_evidence(data))[ARCHIVE]
    assert isinstance(archive, bytes)
    return archive


def _readme(archive: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return opened.read("README.md").decode("utf-8")


def test_each_archive_holds_a_readme_and_every_schema_and_is_the_same_bytes_every_build(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    _write_capture(data)
    archive = _archive(data)
    schemas = sorted(SCHEMAS_DIR.rglob("*.schema.json"))
    assert len(schemas) >= 5  # run, benchmark, capture, machine, check evidence (+ older ones)
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        names = opened.namelist()
        assert names == sorted(names)  # a fixed order
        assert {info.date_time for info in opened.infolist()} == {(2026, 1, 1, 0, 0, 0)}
        assert "README.md" in names
        for schema in schemas:
            name = f"schemas/{schema.relative_to(SCHEMAS_DIR).as_posix()}"
            assert opened.read(name) == schema.read_bytes(), name
        assert "schemas/v1/run.schema.json" in names  # older versions' schemas too
        data_names = [name for name in names if name.startswith("data/")]
        assert data_names == [
            f"data/benchmarks/{synthetic.MACHINE_ID}/{synthetic.CAPTURE_ID}/alpha.json",
            f"data/captures/{synthetic.MACHINE_ID}/{synthetic.CAPTURE_ID}.json",
            f"data/machines/{synthetic.MACHINE_ID}.json",
            f"data/runs/{synthetic.MACHINE_ID}/{synthetic.CAPTURE_ID}/alpha.json",
        ]
        for name in data_names:
            assert opened.read(name) == (data / name.removeprefix("data/")).read_bytes()
    assert _archive(data) == archive  # the same data gives the same bytes...
    elsewhere = tmp_path / "copy" / "data"
    shutil.copytree(data, elsewhere)  # ...wherever it lies, whatever its files' times
    assert _archive(elsewhere) == archive


def test_the_readme_says_what_the_capture_is_and_how_to_validate_and_render_it(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    _write_capture(data)
    readme = _readme(_archive(data))
    title = readme.splitlines()[0]
    assert title == (
        f"# Serving Django: capture `{synthetic.CAPTURE_ID}` on machine `{synthetic.MACHINE_ID}`"
    )
    assert "- Profile: `quick`" in readme
    assert "- State: `complete`" in readme
    assert f"- Harness commit: `{'0' * 40}`, `{COMMIT}`" in readme  # every commit recorded
    assert "from `2026-01-01T00:00:00.000Z` to `2026-01-01T00:05:00.000Z`" in readme
    assert "- Configurations: `alpha`\n" in readme
    assert f"written at version {SCHEMA_VERSION} " in readme
    run = f"data/runs/{synthetic.MACHINE_ID}/{synthetic.CAPTURE_ID}/alpha.json"
    assert f"| `{run}` | the behaviour checks of `alpha` | {SCHEMA_VERSION} |" in readme
    assert f"| {SCHEMA_VERSION} | `schemas/run.schema.json` |" in readme
    assert "| the benchmark figures of `alpha`: `h2load` |" in readme
    assert "python -m harness.validate --data-dir" in readme
    assert f"unzip -n {synthetic.CAPTURE_ID}.zip 'data/*'" in readme
    assert "scripts/nox -s docs" in readme


def test_an_older_file_is_pointed_at_its_frozen_schema() -> None:
    names = ["schemas/machine.schema.json", "schemas/v1/machine.schema.json"]
    assert schema_of("machine", 1, names) == "schemas/v1/machine.schema.json"
    assert schema_of("machine", SCHEMA_VERSION, names) == "schemas/machine.schema.json"
    assert schema_of("capture", 1, names) is None  # capture files begin at version 2
    assert schema_of("run", SCHEMA_VERSION, names) is None  # not in the archive: not named


def test_the_readme_neutralises_contributed_text(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _write_capture(data, {**synthetic.machine(), "cpu_model": HOSTILE, "os": HOSTILE})
    readme = _readme(_archive(data))
    page = markdown.markdown(readme, extensions=["tables", "fenced_code"])
    assert "<script" not in page
    assert "<a " not in page  # no link at all: the README's own text has none
    assert page.count("<h1>") == 1 and "<h1>Owned" not in page
    assert "\u202e" not in readme and "[U+202E]" in readme  # shown, not obeyed
    machine_line = next(line for line in readme.splitlines() if line.startswith("- Machine:"))
    assert "Owned" in machine_line  # the text is still there, on its own line, as code
    assert "<code>Evil`` &lt;/code&gt;&lt;script&gt;alert(1)&lt;/script&gt; # Owned" in page


def _benchmark_rows(tmp_path: Path, results: list[dict[str, Any]]) -> list[dict[str, str]]:
    synthetic.write_data(
        tmp_path, [synthetic.run("alpha")], [synthetic.benchmark("alpha", results)]
    )
    return list(
        csv.DictReader(io.StringIO(render_pages(load_evidence(tmp_path))["data/benchmarks.csv"]))
    )


def test_the_benchmarks_csv_is_tidy(tmp_path: Path) -> None:
    locust = synthetic.figure(
        "locust-polls",
        "polls vote, SQLite",
        {"tool": "locust", "server_cpus": "0", "load_cpus": "1", "workers": 1},
        [synthetic.locust_metrics({10: 0.0, 50: 12.5}, 100.0)] * 3,
    )
    failing = synthetic.h2load_figure(
        [], protocol="h2c", clients=1, failure='=HYPERLINK("https://evil.example")'
    )
    rows = _benchmark_rows(
        tmp_path, [synthetic.h2load_figure([700.0] * 3, protocol="h2+tls"), failing, locust]
    )
    assert list(rows[0]) == [
        "machine",
        "capture",
        "profile",
        "server",
        "variant",
        "scenario",
        "figure",
        "tool",
        "protocol",
        "endpoint",
        "clients",
        "metric",
        "label",
        "unit",
        "value",
        "min",
        "max",
        "cv_percent",
        "repeats",
        "status",
        "failed_by",
        "failure",
        "note",
        "source",
    ]
    rate = next(row for row in rows if row["metric"] == "requests_per_s")
    assert (rate["protocol"], rate["endpoint"], rate["clients"]) == ("h2+tls", "json_sync", "200")
    assert (rate["unit"], rate["value"], rate["label"]) == (
        "requests per second",
        "700.0",
        "requests/s",
    )
    assert (rate["server"], rate["scenario"], rate["status"]) == ("alpha", "h2load", "ok")
    # A failed figure: one row, its reason (shown as text, not run as a formula), no number.
    (failed,) = [row for row in rows if row["status"] == "failed"]
    assert (failed["protocol"], failed["clients"]) == ("h2c", "1")
    assert failed["value"] == "" and failed["metric"] == "" and failed["failed_by"] == "server"
    assert failed["failure"] == '\'=HYPERLINK("https://evil.example")'
    # Locust records no protocol or endpoint: empty cells, never "None"; a step's users are
    # its clients, a whole-run figure has none.
    polls = [row for row in rows if row["scenario"] == "locust-polls"]
    assert {(row["protocol"], row["endpoint"], row["tool"]) for row in polls} == {
        ("", "", "locust")
    }
    step = next(row for row in polls if row["metric"] == "step50_failures_percent")
    assert (step["clients"], step["value"], step["unit"]) == ("50", "12.5", "percent")
    whole = next(row for row in polls if row["metric"] == "answered_per_s")
    assert whole["clients"] == "" and "queue drained" in whole["note"]
    assert not any("None" in value for row in rows for value in row.values())
