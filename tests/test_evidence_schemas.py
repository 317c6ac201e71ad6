"""The store stage's definitions agree with each other: the schemas' enumerations with
``evidence.vocabulary``, the harness's profiles, scenarios and checks with both, and every
check's evidence with its schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evidence.documents import read_document, write_document
from evidence.files import DataError
from evidence.metrics import lookup
from evidence.schema import evidence_schema_ids, load_schema
from evidence.validation import check_data
from evidence.vocabulary import (
    ANSWERS_COUNTED_ON_ARRIVAL,
    CAUSES,
    FAILED_BY,
    FIGURE_STATUSES,
    FRAMING_CLASSES,
    FRAMING_RISKS,
    FRAMING_SEVERITIES,
    H2_RAPID_RESET_VERDICTS,
    H2_STREAM_LIMIT_VERDICTS,
    INTERFACES,
    MODES,
    NGINX_HANDLING,
    OUTCOMES,
    OVERLOAD_STATES,
    PROFILES,
    ROUNDS_STOPPED,
    SCENARIOS,
)
from harness.benchmarks.capture import CAPTURE_WIDE
from harness.benchmarks.scenarios import SERVER_SCENARIOS
from harness.benchmarks.settings import BENCHMARK_SETTINGS
from harness.checks import all_checks
from harness.checks.development.write_stall import DIAGNOSES
from harness.profiles import PROFILES as HARNESS_PROFILES
from tests import synthetic


def test_the_schemas_enumerations_are_the_vocabulary() -> None:
    run, benchmark = load_schema("run"), load_schema("benchmark")
    check = run["properties"]["checks"]["items"]["properties"]
    assert check["outcome"]["enum"] == list(OUTCOMES)
    assert run["$defs"]["cause"]["enum"] == list(CAUSES)
    assert check["cause"] == check["options"]["items"]["properties"]["cause"]
    assert run["properties"]["profile"]["enum"] == list(PROFILES)
    assert benchmark["properties"]["profile"]["enum"] == list(PROFILES)
    assert run["properties"]["server"]["properties"]["interface"]["enum"] == list(INTERFACES)
    assert run["properties"]["server"]["properties"]["mode"]["enum"] == list(MODES)
    figure = benchmark["$defs"]["figure"]["properties"]
    assert figure["scenario"]["enum"] == list(SCENARIOS)
    assert figure["status"]["enum"] == list(FIGURE_STATUSES)
    assert figure["failed_by"]["enum"] == list(FAILED_BY)
    params = figure["params"]["properties"]
    assert params["rounds_stopped"]["enum"] == list(ROUNDS_STOPPED)
    assert params["answers_counted"]["enum"] == [ANSWERS_COUNTED_ON_ARRIVAL]
    stall = load_schema("check-evidence")["$defs"]["checks"]["dev-write-stall"]
    assert stall["properties"]["diagnosis"]["enum"] == [*DIAGNOSES, None]
    smuggling = load_schema("check-evidence")["$defs"]["checks"]["request-smuggling"]
    case = smuggling["properties"]["cases"]["items"]["properties"]
    assert case["class"]["enum"] == list(FRAMING_CLASSES)
    overload = load_schema("check-evidence")["$defs"]["checks"]["overload"]
    load = overload["properties"]["overloads"]["items"]["properties"]
    assert load["state"]["enum"] == list(OVERLOAD_STATES)
    http2 = load_schema("check-evidence")["$defs"]["checks"]["http2-frames"]["properties"]
    assert http2["stream_limit"]["properties"]["verdict"]["enum"] == list(H2_STREAM_LIMIT_VERDICTS)
    assert http2["rapid_reset"]["properties"]["verdict"]["enum"] == list(H2_RAPID_RESET_VERDICTS)
    assert case["risk"]["enum"] == list(FRAMING_RISKS)
    assert case["severity"]["enum"] == list(FRAMING_SEVERITIES)
    nginx_case = smuggling["properties"]["behind_nginx"]["properties"]["cases"]["items"]
    assert nginx_case["properties"]["nginx"]["enum"] == list(NGINX_HANDLING)


def test_the_harness_defines_what_the_vocabulary_names() -> None:
    assert tuple(HARNESS_PROFILES) == PROFILES
    assert tuple(BENCHMARK_SETTINGS) == PROFILES
    produced = {scenario for scenarios, _ in SERVER_SCENARIOS for scenario in scenarios}
    assert produced | set(CAPTURE_WIDE) == set(SCENARIOS)


def test_every_check_has_an_evidence_schema() -> None:
    assert {check.id for check in all_checks()} == evidence_schema_ids()


def _run_file(tmp_path: Path, document: dict) -> Path:
    synthetic.write_data(tmp_path, [])
    path = tmp_path / "runs" / synthetic.MACHINE_ID / synthetic.CAPTURE_ID / "tls.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize("status", ["fast", -5, 99])
def test_a_check_status_code_of_the_wrong_shape_is_refused_by_name(
    tmp_path: Path, status: object
) -> None:
    document = synthetic.run("tls")
    document["checks"][0] |= {"id": "tls", "evidence": {"status": status, "url": "https://x/"}}
    path = _run_file(tmp_path, document)
    _, problems = check_data(tmp_path)
    assert any(
        line.startswith(f"{path}: checks/0/evidence/status: {status!r}") for line in problems
    ), problems


def test_a_version_1_check_with_a_bad_status_is_refused_too(tmp_path: Path) -> None:
    document = synthetic.run("tls")
    check = document["checks"][0]
    check |= {"id": "tls", "evidence": {"status": "fast", "question": check.pop("question")}}
    check["evidence"] |= {"thresholds": check.pop("thresholds"), "timed": check.pop("timed")}
    document["schema_version"] = 1
    path = _run_file(tmp_path, document)
    _, problems = check_data(tmp_path)
    assert any("checks/0/evidence/status: 'fast'" in line for line in problems), problems
    with pytest.raises(DataError, match="checks/0/evidence/status"):
        read_document(path, "run")


def test_an_unregistered_metric_is_refused_by_name(tmp_path: Path) -> None:
    figure = synthetic.h2load_figure([1000.0])
    figure["metrics"]["requests_per_ratio"] = 1.0
    document = synthetic.benchmark("uvicorn", [figure])
    synthetic.write_data(tmp_path, [])
    path = tmp_path / "benchmarks" / synthetic.MACHINE_ID / synthetic.CAPTURE_ID / "uvicorn.json"
    with pytest.raises(DataError, match="requests_per_ratio: not a registered metric"):
        write_document(path, document, "benchmark")  # the harness cannot write it
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(document))  # nor can a contributed file bring it in
    _, problems = check_data(tmp_path)
    assert any(
        line.startswith(f"{path}: results/0/metrics/requests_per_ratio: not a registered metric")
        for line in problems
    ), problems


def test_per_cpu_metrics_carry_their_cpu_and_only_they_may() -> None:
    busy = lookup("step300_cpu1_busy_percent")
    assert busy is not None and (busy.cpu, busy.step_users) == (1, 300)
    assert busy.label == "CPU 1 busy % at 300 users" and busy.metric.unit.shown == "%"
    assert lookup("cpu0_steal_percent") is not None
    assert lookup("busy_percent") is None  # busy of which CPU?
    assert lookup("step300_busy_percent") is None
    assert lookup("with_busy_percent") is None
    assert lookup("cpu0_server_cpu_percent") is None  # a tree's share is of no one CPU
    assert lookup("step300_server_cpu_percent") is not None
