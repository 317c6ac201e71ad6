"""The request-smuggling check: the corpus of ambiguous framings, each sent as exact bytes on
a connection of its own, and what the server did with it: rejected it, passed Django the
request the spec describes, passed it a different reading, or ran a second, smuggled request."""

from __future__ import annotations

from typing import Any

from evidence.vocabulary import FRAMING_CLASSES
from harness.checks import Check, CheckContext, Finding
from harness.checks.hazards._shared import GROUP, address
from harness.checks.hazards.raw_http import Exchange, escaped, exchange
from harness.checks.hazards.smuggling_corpus import (
    CASES,
    REJECT,
    SMUGGLED_MARK,
    Case,
    chunked_body_withheld,
)

IDLE_S = 1.0  # a kept-alive connection with nothing more to say
LIMIT_S = 4.0

# How a server handled one input (evidence.vocabulary.FRAMING_CLASSES says what each means).
REJECTED, ACCEPTED, NO_ANSWER, LENIENT, MISREAD, SMUGGLED = FRAMING_CLASSES


THRESHOLDS = (
    f"{len(CASES)} inputs, each on a new connection, read until the server closes or is quiet "
    f"for {IDLE_S:g} s (at most {LIMIT_S:g} s). Per input: rejected (an error status or a "
    "closed connection), accepted (Django got what the RFC's reading gives), lenient (accepted "
    "an input the RFC says to reject), misread (Django got another reading), no answer, or "
    "smuggled (Django also ran the request hidden in the body). Outcome: no = any input "
    "smuggled a request; partial = no smuggling, but some input was accepted leniently, "
    "misread or left unanswered; yes = every input rejected or read as the RFC says."
)


def _echo_summary(echo: dict[str, Any]) -> str:
    query = f"?{echo['query_string']}" if echo.get("query_string") else ""
    said = f"{echo.get('method')} {echo.get('path')}{query}"
    if echo.get("body_bytes"):
        said += f", body {echo['body_bytes']} B {echo.get('body_head', '')[:40]!r}"
    elif chunked_body_withheld(echo):
        said += ", chunked body not passed to Django (WSGI reads Content-Length bodies only)"
    probe = echo.get("headers", {}).get("HTTP_X_PROBE")
    return said + (f", X-Probe {probe!r}" if probe is not None else "")


def classify(case: Case, result: Exchange) -> tuple[str, str]:
    """(class, detail) of what the server did with ``case``."""
    echoes = [response.echo for response in result.responses if response.echo]
    if any(SMUGGLED_MARK in echo.get("query_string", "") for echo in echoes):
        return SMUGGLED, "Django ran: " + "; ".join(_echo_summary(echo) for echo in echoes)
    if echoes:
        seen = "; ".join(_echo_summary(echo) for echo in echoes)
        if case.spec == REJECT:
            return LENIENT, f"Django got: {seen}"
        if case.expected is not None and not case.expected(echoes[0]):
            return MISREAD, f"Django got: {seen}"
        return ACCEPTED, f"Django got: {seen}"
    statuses = [response.status for response in result.responses]
    if statuses:
        return REJECTED, "HTTP " + ", ".join(str(status) for status in statuses)
    if result.ended in ("closed", "reset") or result.error:
        return REJECTED, f"connection {result.ended or 'refused'} without a response"
    return NO_ANSWER, f"no response within {result.elapsed_s:.1f} s"


def run_case(context: CheckContext, case: Case) -> dict[str, Any]:
    target = address(context)
    request = case.request(target.host_header)
    result = exchange(target, request, idle_s=IDLE_S, limit_s=LIMIT_S)
    kind, detail = classify(case, result)
    return {
        "id": case.id,
        "title": case.title,
        "spec": case.spec,
        "rule": case.rule,
        "expected": case.expected_text,
        "sent": escaped(request),
        "class": kind,
        "detail": detail[:300],
        **result.as_record(),
    }


def judge(cases: list[dict[str, Any]]) -> tuple[str, str]:
    by_class: dict[str, list[str]] = {}
    for case in cases:
        by_class.setdefault(case["class"], []).append(case["id"])
    counts = ", ".join(
        f"{len(by_class[kind])} {kind}" for kind in FRAMING_CLASSES if kind in by_class
    )
    if SMUGGLED in by_class:
        return "no", (
            f"Smuggling: Django ran a hidden second request for {', '.join(by_class[SMUGGLED])} "
            f"({counts})."
        )
    loose = by_class.get(LENIENT, []) + by_class.get(MISREAD, [])
    if loose:
        return "partial", (
            f"No input smuggled a request, but {len(loose)} reached Django against the RFC's "
            f"reading: {', '.join(loose)} ({counts})."
        )
    if NO_ANSWER in by_class:
        return "partial", (
            f"No input smuggled a request, but {len(by_class[NO_ANSWER])} got no answer within "
            f"{LIMIT_S:g} s, so a client waits for its own timeout: "
            f"{', '.join(by_class[NO_ANSWER])} ({counts})."
        )
    return "yes", f"Every input was rejected or read as the RFC says ({counts})."


def run(context: CheckContext) -> Finding:
    cases = [run_case(context, case) for case in CASES]
    outcome, summary = judge(cases)
    return Finding(outcome, summary, {"instance": context.shared.describe(), "cases": cases})


CHECKS = [
    Check(
        id="request-smuggling",
        title="Ambiguous request framing",
        group=GROUP,
        question=(
            "Does the server reject ambiguous or malformed request framing (Content-Length with "
            "Transfer-Encoding, bad lengths and chunk sizes, bare LF, NUL), or could a request "
            "be smuggled past a proxy?"
        ),
        thresholds=THRESHOLDS,
        run=run,
        cases=tuple(
            {
                "id": case.id,
                "title": case.title,
                "spec": case.spec,
                "rule": case.rule,
                "expected": case.expected_text,
            }
            for case in CASES
        ),
    ),
]
