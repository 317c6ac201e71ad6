"""How bad each input of the request-smuggling check was, for the pages and for /pick/.

A run file written since December 2026 records each input's severity (fine, lenient, desync),
judged by the check from what the server did and the input's declared risk. An older file
records only what the server did (the class); its severity is the one the same rule gives from
that class, the first request Django got and the input's risk in the check catalog, with one
difference: an older file did not record whether a smuggled request ran after the first one was
read as the RFC says (the connection only kept open, which the rule calls lenient), so a
smuggled input counts as a desync there. Such a severity is marked as derived wherever it is
shown."""

from __future__ import annotations

from typing import Any

from evidence.echo import chunked_body_withheld
from evidence.vocabulary import FRAMING_CLASSES, FRAMING_RISKS, FRAMING_SEVERITIES

CHECK_ID = "request-smuggling"
REJECTED, ACCEPTED, NO_ANSWER, LENIENT, MISREAD, SMUGGLED = FRAMING_CLASSES
FINE, SEVERITY_LENIENT, DESYNC = FRAMING_SEVERITIES
RISK_DESYNC, _ = FRAMING_RISKS


def recorded_cases(result: dict[str, Any]) -> list[dict[str, Any]]:
    evidence = result.get("evidence")
    cases = evidence.get("cases") if isinstance(evidence, dict) else None
    return [case for case in cases if isinstance(case, dict)] if isinstance(cases, list) else []


def input_severity(case: dict[str, Any], risk: str | None) -> tuple[str | None, bool]:
    """(severity, derived) of one recorded input; ``risk`` is the catalog's. None when the
    file names a class the rule does not know."""
    recorded = case.get("severity")
    if recorded in FRAMING_SEVERITIES:
        return recorded, False
    kind = case.get("class")
    # The earlier rule and this one agree on these: not marked as derived.
    if kind in (REJECTED, ACCEPTED):
        return FINE, False
    if kind == NO_ANSWER:
        return SEVERITY_LENIENT, False
    if kind == SMUGGLED:
        return DESYNC, True
    if kind in (LENIENT, MISREAD):
        # An input the catalog no longer describes is taken at its worst.
        desync_risk = risk not in FRAMING_RISKS or risk == RISK_DESYNC
        return (
            DESYNC if desync_risk and not _first_body_withheld(case) else SEVERITY_LENIENT
        ), True
    return None, True


def _first_body_withheld(case: dict[str, Any]) -> bool:
    """The rule's exception (harness/checks/hazards/smuggling.py, ``severity``): Django got the
    request before the server read its chunked body, and no hidden request ran."""
    responses = case.get("responses")
    echoes = [
        response["echo"]
        for response in (responses if isinstance(responses, list) else [])
        if isinstance(response, dict) and isinstance(response.get("echo"), dict)
    ]
    return bool(echoes) and chunked_body_withheld(echoes[0])


def desync_inputs(result: dict[str, Any], catalog_cases: list[dict[str, Any]]) -> list[str]:
    """The ids of the inputs whose severity is desync, in the file's order."""
    risks = {case["id"]: case.get("risk") for case in catalog_cases}
    return [
        str(case.get("id"))
        for case in recorded_cases(result)
        if input_severity(case, risks.get(str(case.get("id"))))[0] == DESYNC
    ]
