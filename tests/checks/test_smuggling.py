"""The request-smuggling check judges by risk: every corpus input declares whether a server that
reads it otherwise than the RFC can be desynchronised from a proxy in front (desync) or not
(lenient), and the outcome follows from each input's severity. Against the hazard server
(tests/apps/hazard_server.py, synthetic): one that frames by Content-Length over chunked is
"no"; one that is only lenient (and keeps a CL+TE connection open) is "partial"."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence.vocabulary import FRAMING_CLASSES
from harness.checks import run_check
from harness.checks.hazards import smuggling
from harness.checks.hazards.smuggling_corpus import CASES, DESYNC, LENIENT
from tests.checks.hazard_servers import started

(SMUGGLING,) = smuggling.CHECKS
CASE = {case.id: case for case in CASES}

# Each input's risk, decided once here, so that a changed declaration in the corpus is a
# reviewed change: the inputs that decide where a message ends, and those that cannot.
RISKS = {
    "cl-and-te": DESYNC,
    "te-and-short-cl": DESYNC,
    "two-content-lengths": DESYNC,
    "content-length-list": DESYNC,
    "content-length-plus": DESYNC,
    "content-length-underscore": DESYNC,
    "unknown-coding": DESYNC,
    "space-before-colon": DESYNC,
    "chunk-size-0x": DESYNC,
    "chunk-size-underscore": DESYNC,
    "chunk-size-overflow": DESYNC,
    "uppercase-chunked": DESYNC,
    "bare-lf": LENIENT,
    "bare-cr": LENIENT,
    "obs-fold": LENIENT,
    "nul-in-value": LENIENT,
    "control-in-name": LENIENT,
    "missing-host": LENIENT,
    "two-hosts": LENIENT,
}


# --- the corpus's risks ----------------------------------------------------------------------


def test_every_corpus_input_declares_its_risk() -> None:
    assert {case.id: case.risk for case in CASES} == RISKS


def test_every_risk_is_justified_with_an_rfc_section() -> None:
    for case in CASES:
        assert "RFC 91" in case.risk_reason, case.id
        assert case.risk_reason.startswith("Framing.") == (case.risk == DESYNC), case.id


def test_the_catalog_carries_each_inputs_risk_for_the_site() -> None:
    assert [(c["id"], c["risk"]) for c in SMUGGLING.cases] == list(RISKS.items())
    assert all(c["risk_reason"] for c in SMUGGLING.cases)


def test_a_corpus_input_without_a_known_risk_is_refused() -> None:
    with pytest.raises(ValueError, match="risk must be one of"):
        smuggling.Case("x", "x", "reject", "x", lambda host: b"", risk="harmless", risk_reason="x")


# --- the severity rule -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", [smuggling.REJECTED, smuggling.ACCEPTED])
@pytest.mark.parametrize("case_id", ["cl-and-te", "bare-cr"])
def test_rejected_or_read_as_specified_is_fine(kind: str, case_id: str) -> None:
    assert smuggling.severity(CASE[case_id], kind) == "fine"


@pytest.mark.parametrize("kind", [smuggling.LENIENT, smuggling.MISREAD])
def test_a_departure_on_a_framing_input_is_a_desync(kind: str) -> None:
    assert smuggling.severity(CASE["two-content-lengths"], kind) == "desync"
    assert smuggling.severity(CASE["cl-and-te"], kind) == "desync"


@pytest.mark.parametrize("kind", [smuggling.LENIENT, smuggling.MISREAD])
def test_a_departure_on_a_field_or_line_input_is_lenient(kind: str) -> None:
    assert smuggling.severity(CASE["nul-in-value"], kind) == "lenient"
    assert smuggling.severity(CASE["bare-lf"], kind) == "lenient"


def test_a_smuggled_request_is_a_desync_unless_the_first_was_read_as_specified() -> None:
    case = CASE["cl-and-te"]
    assert smuggling.severity(case, smuggling.SMUGGLED) == "desync"
    assert smuggling.severity(case, smuggling.SMUGGLED, read_as_specified=True) == "lenient"


def test_no_answer_is_lenient() -> None:
    assert smuggling.severity(CASE["chunk-size-overflow"], smuggling.NO_ANSWER) == "lenient"


def test_a_malformed_chunked_body_django_never_got_is_lenient_when_nothing_hid_in_it() -> None:
    case = CASE["chunk-size-0x"]
    assert smuggling.severity(case, smuggling.LENIENT) == "desync"
    assert smuggling.severity(case, smuggling.LENIENT, body_withheld=True) == "lenient"


def test_every_class_has_a_severity() -> None:
    for case in CASES:
        for kind in FRAMING_CLASSES:
            assert smuggling.severity(case, kind) in ("fine", "lenient", "desync")


# --- the outcome -----------------------------------------------------------------------------


def _records(**severities: str) -> list[dict[str, str]]:
    return [
        {"id": case.id, "class": "rejected", "severity": "fine"}
        | ({"class": "misread", "severity": severities[case.id]} if case.id in severities else {})
        for case in CASES
    ]


def _behind(affected: frozenset[str] = frozenset()) -> dict:
    return {
        "measured": True,
        "nginx_version": "1.22.1",
        "cases": [
            {"id": case.id, "nginx": "rejected", "affected": case.id in affected} for case in CASES
        ],
    }


def test_one_desync_input_makes_the_check_no() -> None:
    outcome, summary = smuggling.judge(_records(**{"cl-and-te": "desync"}), _behind())
    assert outcome == "no"
    assert summary.startswith("Desync: 1 input framed otherwise than the RFC")
    assert "nginx rejected 19 of 19 inputs itself" in summary


def test_lenient_inputs_alone_make_the_check_partial() -> None:
    outcome, summary = smuggling.judge(_records(**{"nul-in-value": "lenient"}), _behind())
    assert outcome == "partial"
    assert "No input desyncs" in summary and "nul-in-value (misread)" in summary


def test_a_second_client_affected_behind_nginx_makes_the_check_no() -> None:
    outcome, summary = smuggling.judge(_records(), _behind({"uppercase-chunked"}))
    assert outcome == "no"
    assert summary.startswith("Desync behind nginx")
    assert "affected after uppercase-chunked" in summary


def test_without_nginx_the_outcome_is_the_direct_one_and_says_so() -> None:
    behind = {"measured": False, "reason": "NginxUnavailable: nginx was not found"}
    outcome, summary = smuggling.judge(_records(), behind)
    assert outcome == "yes"
    assert "Not measured behind nginx: NginxUnavailable" in summary


# --- against real servers --------------------------------------------------------------------


def test_a_server_that_frames_content_length_over_chunked_is_no(tmp_path: Path) -> None:
    with started("naive", tmp_path / "naive") as context:
        result = run_check(SMUGGLING, context)
    assert result["outcome"] == "no", result["summary"]
    cases = {case["id"]: case for case in result["evidence"]["cases"]}
    # TE.CL: Django got the hidden request as the body of the first.
    assert cases["cl-and-te"]["class"] == smuggling.MISREAD
    assert cases["cl-and-te"]["severity"] == "desync"
    assert "cl-and-te (misread)" in result["summary"]


def test_a_server_that_is_only_lenient_is_partial(tmp_path: Path) -> None:
    with started("lenient", tmp_path / "lenient") as context:
        result = run_check(SMUGGLING, context)
    assert result["outcome"] == "partial", result["summary"]
    cases = {case["id"]: case for case in result["evidence"]["cases"]}
    # CL+TE read chunked, then the connection kept open: the hidden request ran after it.
    assert cases["cl-and-te"]["class"] == smuggling.SMUGGLED
    assert cases["cl-and-te"]["severity"] == "lenient"
    assert "the connection was kept open" in result["summary"]
    assert cases["nul-in-value"]["class"] == smuggling.MISREAD  # a\x00b reached Django
    assert cases["nul-in-value"]["severity"] == "lenient"
    assert {c["id"] for c in cases.values() if c["severity"] == "desync"} == set()
    assert cases["two-content-lengths"]["class"] == smuggling.REJECTED
