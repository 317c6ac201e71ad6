"""Data that validates cannot lie: a repeated key, a number no metric can be, a summary that is
not its repeats', a file too large to render and a server with no definition are refused, by
``nox -s validate`` and by the site build alike, each naming the file and the field.

Every malformed file here is SYNTHETIC, built by the test (the 100 MB one in a scratch folder)."""

from __future__ import annotations

import json
import random
import statistics
from pathlib import Path
from typing import Any

import pytest

from evidence.files import DataError, dumps, read_json
from evidence.metrics import METRICS, lookup
from evidence.parsing import MAX_ARRAY_ITEMS, MAX_FILE_BYTES, parse
from evidence.summaries import coefficient_of_variation
from evidence.validation import check_data
from harness.benchmarks.measurement import Measurement, summarise
from harness.validate import validate
from tests import synthetic

CAPTURES = iter(f"2026010{day}T000000Z" for day in range(1, 10))


def _run_path(data: Path, server_id: str, capture: str) -> Path:
    return data / "runs" / synthetic.MACHINE_ID / capture / f"{server_id}.json"


def _benchmark_path(data: Path, server_id: str, capture: str) -> Path:
    return data / "benchmarks" / synthetic.MACHINE_ID / capture / f"{server_id}.json"


def _place(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _repeated_key(data: Path, capture: str) -> tuple[Path, str]:
    """The check's outcome written twice: "no", then "yes" (what Python's json keeps)."""
    text = json.dumps(synthetic.run("uvicorn", outcome="yes", capture=capture), indent=2)
    assert text.count('"outcome": "yes"') == 1
    text = text.replace('"outcome": "yes"', '"outcome": "no",\n"outcome": "yes"')
    return _place(_run_path(data, "uvicorn", capture), text), "checks/0/outcome"


def _huge_rate(data: Path, capture: str) -> tuple[Path, str]:
    """A rate of 1e308 requests per second, in the figure, its spread and every repeat alike."""
    figure = synthetic.h2load_figure([1000.0] * 3)
    figure["metrics"]["requests_per_s"] = 1e308
    figure["spread"]["requests_per_s"].update(median=1e308, min=1e308, max=1e308)
    for repeat in figure["repeats"]:
        repeat["metrics"]["requests_per_s"] = 1e308
    document = synthetic.benchmark("uvicorn", [figure], capture=capture)
    path = _place(_benchmark_path(data, "uvicorn", capture), json.dumps(document))
    return path, "results/0/metrics/requests_per_s"


def _median_outside(data: Path, capture: str) -> tuple[Path, str]:
    """A median five times its own max, published as the figure."""
    figure = synthetic.h2load_figure([1000.0, 1100.0, 1200.0])
    figure["spread"]["requests_per_s"]["median"] = 6000.0
    figure["metrics"]["requests_per_s"] = 6000.0
    document = synthetic.benchmark("gunicorn-uvicorn", [figure], capture=capture)
    path = _benchmark_path(data, "gunicorn-uvicorn", capture)
    return _place(path, json.dumps(document)), "results/0/spread/requests_per_s/median"


def _hundred_megabytes(data: Path, capture: str) -> tuple[Path, str]:
    """A run file whose check evidence carries an array of 100 MB; written in pieces."""
    document = synthetic.run("daphne", capture=capture)
    document["checks"][0]["evidence"]["samples"] = "SAMPLES"
    head, tail = json.dumps(document).split('"SAMPLES"')
    path = _run_path(data, "daphne", capture)
    path.parent.mkdir(parents=True, exist_ok=True)
    piece = "0," * 2**20
    with path.open("w", encoding="utf-8") as stream:
        stream.write(head + "[")
        for _ in range(50):
            stream.write(piece)
        stream.write("0]" + tail)
    assert path.stat().st_size > 100 * 2**20
    return path, "(file)"


def _unknown_server(data: Path, capture: str) -> tuple[Path, str]:
    """A whole, valid run file of a server with no definition in harness/servers/."""
    document = synthetic.run("nginx-unit", capture=capture)
    return _place(_run_path(data, "nginx-unit", capture), json.dumps(document)), "server/id"


HELD_OUT = {
    "repeated key": _repeated_key,
    "1e308": _huge_rate,
    "median outside min-max": _median_outside,
    "100 MB array": _hundred_megabytes,
    "unknown server": _unknown_server,
}


def _named(lines: list[str], path: Path, field: str) -> bool:
    return any(line.startswith(f"{path}: {field}") for line in lines)


@pytest.fixture(scope="module")
def held_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[Path, str]]]:
    """One data folder holding every malformed file beside a valid machine file."""
    data = tmp_path_factory.mktemp("held-out") / "data"
    synthetic.write_data(data, [])
    return data, {name: make(data, next(CAPTURES)) for name, make in HELD_OUT.items()}


@pytest.mark.parametrize("name", HELD_OUT)
def test_validate_refuses_each_held_out_file_naming_file_and_field(
    tmp_path: Path, name: str
) -> None:
    data = tmp_path / "data"
    synthetic.write_data(data, [])
    path, field = HELD_OUT[name](data, synthetic.CAPTURE_ID)
    errors = validate(data)
    assert _named(errors, path, field), errors


def test_the_site_build_refuses_every_held_out_file_naming_file_and_field(
    held_out: tuple[Path, dict[str, tuple[Path, str]]], tmp_path: Path
) -> None:
    data, files = held_out
    # The repository's own definitions only: an unknown server stays unknown.
    completed = synthetic.build_site(data, tmp_path / "site", define_servers=False)
    assert completed.returncode != 0
    lines = [line.strip() for line in completed.stderr.splitlines()]
    for name, (path, field) in files.items():
        assert _named(lines, path, field), (name, completed.stderr[-3000:])
    assert not (tmp_path / "site" / "servers").exists()


def test_the_site_build_and_validate_report_the_same_problems(
    held_out: tuple[Path, dict[str, tuple[Path, str]]], tmp_path: Path
) -> None:
    """One code path: the site's reader (generators.reading) gives what validate gives."""
    from generators.reading import read_data

    data, _ = held_out
    _, site_problems = read_data(data)
    assert sorted(site_problems) == sorted(validate(data))


# ---- parsing ------------------------------------------------------------------------------


def _parsed(tmp_path: Path, text: str) -> tuple[Any, list[str]]:
    path = tmp_path / "file.json"
    path.write_text(text)
    return parse(path)


def test_a_repeated_key_is_named_by_its_path_at_any_depth(tmp_path: Path) -> None:
    document, problems = _parsed(tmp_path, '{"a": [{"b": {"c": 1, "c": 2, "d": 0}}], "e": 1}')
    assert document is None
    assert len(problems) == 1 and problems[0].startswith("a/0/b/c: the key appears more than")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
def test_numbers_json_has_no_number_for_are_refused(tmp_path: Path, literal: str) -> None:
    _, problems = _parsed(tmp_path, f'{{"evidence": {{"wall_s": {literal}}}}}')
    assert problems == [
        f"evidence/wall_s: {literal} is not a finite number (JSON has no NaN or Infinity)"
    ]


def test_a_long_array_is_refused_by_its_path(tmp_path: Path) -> None:
    items = ",".join("0" * (MAX_ARRAY_ITEMS + 1))
    _, problems = _parsed(tmp_path, f'{{"checks": [{{"samples": [{items}]}}]}}')
    assert problems == [
        f"checks/0/samples: {MAX_ARRAY_ITEMS + 1:,} items, more than the "
        f"{MAX_ARRAY_ITEMS:,} allowed"
    ]


def test_a_file_too_large_is_refused_from_its_size_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "sparse.json"
    with path.open("wb") as stream:  # 64 GiB of holes: reading it would exhaust the memory
        stream.truncate(64 * 2**30)
    document, problems = parse(path)
    assert document is None
    assert problems == [
        f"(file): {64 * 2**30:,} bytes, more than the {MAX_FILE_BYTES:,} a data file may hold"
    ]


def test_deep_nesting_is_refused_not_a_crash(tmp_path: Path) -> None:
    _, problems = _parsed(tmp_path, "[" * 100_000 + "]" * 100_000)
    assert len(problems) == 1 and "nested deeper than" in problems[0]


def test_read_json_names_the_file_and_each_field(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text('{"a": 1, "a": 2, "b": NaN}')
    with pytest.raises(DataError) as failure:
        read_json(path)
    assert str(failure.value).splitlines() == [
        f"{path}:",
        "  a: the key appears more than once in one object (a reader would keep only the last, "
        "a reviewer sees the first)",
        "  b: NaN is not a finite number (JSON has no NaN or Infinity)",
    ]


def test_the_largest_committed_file_and_array_are_far_below_the_caps() -> None:
    from evidence.layout import DEFAULT_DATA_DIR

    files = list(DEFAULT_DATA_DIR.rglob("*.json"))
    # The largest is the interleaved rounds of a whole capture (16 configurations with two
    # middleware stacks and two reference apps, up to 5 rounds): 864 KB, about a tenth of
    # the cap; twice as many configurations would still leave the cap four times larger.
    assert max(path.stat().st_size for path in files) * 8 < MAX_FILE_BYTES

    def longest(value: Any) -> int:
        if isinstance(value, dict):
            return max((longest(item) for item in value.values()), default=0)
        if isinstance(value, list):
            return max([len(value), *(longest(item) for item in value)])
        return 0

    assert max(longest(json.loads(path.read_text())) for path in files) * 10 < MAX_ARRAY_ITEMS


# ---- summaries and bounds -------------------------------------------------------------------


def _problems_of(tmp_path: Path, figure: dict[str, Any]) -> list[str]:
    data = tmp_path / "data"
    synthetic.write_data(data, [])
    capture = synthetic.CAPTURE_ID
    path = _benchmark_path(data, "uvicorn", capture)
    _place(path, json.dumps(synthetic.benchmark("uvicorn", [figure], capture=capture)))
    _, problems = check_data(data)
    prefix = f"{path}: "
    assert all(line.startswith(prefix) for line in problems), problems
    return [line.removeprefix(prefix) for line in problems]


def test_a_consistent_figure_passes(tmp_path: Path) -> None:
    assert _problems_of(tmp_path, synthetic.h2load_figure([1000.0, 1100.0, 1250.0])) == []


def test_a_median_that_is_not_its_repeats_is_refused(tmp_path: Path) -> None:
    figure = synthetic.h2load_figure([1000.0, 1100.0, 1250.0])
    figure["spread"]["requests_per_s"]["median"] = 1200.0
    figure["metrics"]["requests_per_s"] = 1200.0
    assert _problems_of(tmp_path, figure) == [
        "results/0/spread/requests_per_s/median: 1200.0, but its repeats give 1100.0"
    ]


def test_a_published_figure_that_is_not_its_median_is_refused(tmp_path: Path) -> None:
    figure = synthetic.h2load_figure([1000.0, 1100.0, 1250.0])
    figure["metrics"]["requests_per_s"] = 1250.0
    assert _problems_of(tmp_path, figure) == [
        "results/0/metrics/requests_per_s: 1250.0 is not its spread's median 1100.0"
    ]


def test_a_cv_that_is_not_its_repeats_is_refused(tmp_path: Path) -> None:
    figure = synthetic.h2load_figure([1000.0, 1100.0, 1250.0])
    cv = figure["spread"]["requests_per_s"]["cv_percent"]
    figure["spread"]["requests_per_s"]["cv_percent"] = round(cv + 0.01, 6)
    (problem,) = _problems_of(tmp_path, figure)
    assert problem.startswith("results/0/spread/requests_per_s/cv_percent: ")


def test_a_spread_over_part_of_the_repeats_is_refused(tmp_path: Path) -> None:
    figure = synthetic.h2load_figure([1000.0, 1100.0, 1250.0])
    figure["repeats"][1]["metrics"]["requests_per_s"] = None
    assert _problems_of(tmp_path, figure) == [
        "results/0/spread/requests_per_s: only 2 of the 3 repeats measured it (a spread is "
        "over every repeat)"
    ]


def test_a_share_above_100_percent_and_a_fractional_count_are_refused(tmp_path: Path) -> None:
    params = synthetic.h2load_figure([1.0])["params"]
    repeat = synthetic.h2load_metrics(1000.0) | {"failed_percent": 150.0, "requests_total": 2.5}
    figure = synthetic.figure("h2load", "c=1", params, [repeat] * 3)
    problems = _problems_of(tmp_path, figure)
    assert (
        "results/0/repeats/0/metrics/requests_total: 2.5 is not a whole number (requests_total "
        "counts)"
    ) in problems
    assert (
        "results/0/metrics/failed_percent: 150.0 is outside what failed_percent can be "
        "(0 to 100 percent; evidence/metrics.py)"
    ) in problems
    # failed %: the figure, its spread's three, the three repeats; the count: its spread's min
    # and max, the three repeats (a median of counts may be x.5)
    assert len(problems) == (1 + 3 + 3) + (2 + 3), problems


def test_every_metric_declares_a_finite_non_negative_range() -> None:
    for one in METRICS:
        allowed = one.allowed
        assert 0 <= allowed.low < allowed.high < 1e15, one.name
    assert lookup("step300_server_cpu_percent").metric.allowed.high > 100  # one core is 100 %
    assert lookup("failures_percent").metric.allowed.high == 100


def test_a_huge_number_anywhere_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    document = synthetic.run("uvicorn")
    document["checks"][0]["evidence"]["batches"] = [{"elapsed": 1e308}]
    synthetic.write_data(data, [document])
    _, problems = check_data(data)
    assert any("checks/0/evidence/batches/0/elapsed: 1e+308 is beyond" in p for p in problems)


def test_an_offset_before_its_event_is_allowed_a_negative_duration_is_not(tmp_path: Path) -> None:
    """The client-disconnect check times each record from the moment the client left: the
    view started before it (capture 20261207T130659Z's first real run wrote -0.5 s, and the
    site build refused the whole capture)."""
    data = tmp_path / "data"
    document = synthetic.run("uvicorn")
    document["checks"][0]["evidence"]["records"] = [
        {"event": "started", "after_leaving_s": -0.5},
        {"event": "finished", "wall_s": -0.5},
    ]
    synthetic.write_data(data, [document])
    _, problems = check_data(data)
    (problem,) = problems
    assert problem.endswith("records/1/wall_s: -0.5 is a negative measurement (must be >= 0)")


def test_the_live_load_time_line_may_start_before_its_window(tmp_path: Path) -> None:
    """The live-load checks look at the server's processes before the measured window starts
    (capture 20261207T153005Z wrote -1.42 s, and the site build refused it)."""
    data = tmp_path / "data"
    document = synthetic.run("uvicorn")
    document["checks"][0]["evidence"]["tree_changes"] = [
        {"since_window_start_s": -1.42, "pids": [10, 11]},
        {"at_s": -1.42, "pids": [10]},
    ]
    synthetic.write_data(data, [document])
    _, problems = check_data(data)
    (problem,) = problems
    assert problem.endswith("tree_changes/1/at_s: -1.42 is a negative measurement (must be >= 0)")


@pytest.mark.parametrize("seed", range(20))
def test_the_summary_rule_is_the_harness_s(seed: int) -> None:
    """The validator's CV and median are the ones the harness publishes, stored rounded."""
    generator = random.Random(seed)
    values = [generator.uniform(0.0005, 5000) for _ in range(generator.randint(1, 7))]
    summary = json.loads(dumps(summarise([Measurement({"x": value}) for value in values])))
    stored = [repeat["metrics"]["x"] for repeat in summary["repeats"]]
    spread = summary["spread"]["x"]
    assert spread["median"] == pytest.approx(statistics.median(stored), abs=1e-6)
    computed = coefficient_of_variation(stored)
    if spread["cv_percent"] is None:
        assert computed is None
    else:
        assert computed == pytest.approx(spread["cv_percent"], rel=1e-3, abs=1e-4)
