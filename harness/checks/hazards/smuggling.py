"""The request-smuggling check: the corpus of ambiguous framings, each sent as exact bytes on
a connection of its own, and what the server did with it: rejected it, passed Django the
request the spec describes, passed it a different reading, or ran a second, smuggled request.
Each input's severity follows from that and from the input's declared risk: a server whose
message boundary is not the RFC's can be desynchronised from a proxy in front (no); one that
is only lenient cannot (partial). Then the same inputs go through nginx with a reused upstream
connection, each followed by a second client (``smuggling_nginx``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evidence.echo import chunked_body_withheld
from evidence.vocabulary import FRAMING_CLASSES, FRAMING_SEVERITIES
from harness.checks import Check, CheckContext, Finding
from harness.checks.hazards import smuggling_nginx
from harness.checks.hazards._shared import GROUP, address
from harness.checks.hazards.raw_http import Exchange, escaped, exchange
from harness.checks.hazards.smuggling_corpus import (
    CASES,
    DESYNC,
    REJECT,
    REJECT_OR_ACCEPT,
    SMUGGLED_MARK,
    Case,
)

IDLE_S = 1.0  # a kept-alive connection with nothing more to say
LIMIT_S = 4.0
NGINX_FOLDER = "smuggling-nginx"  # in the launcher's scratch folder

# How a server handled one input (evidence.vocabulary.FRAMING_CLASSES says what each means).
REJECTED, ACCEPTED, NO_ANSWER, LENIENT, MISREAD, SMUGGLED = FRAMING_CLASSES
# How bad that is (evidence.vocabulary.FRAMING_SEVERITIES).
SEVERITY_FINE, SEVERITY_LENIENT, SEVERITY_DESYNC = FRAMING_SEVERITIES


THRESHOLDS = (
    f"{len(CASES)} inputs, each on a new connection, read until the server closes or is quiet "
    f"for {IDLE_S:g} s (at most {LIMIT_S:g} s). Per input, a class: rejected (an error status "
    "or a closed connection), accepted (Django got what the RFC's reading gives), lenient "
    "(accepted an input the RFC says to reject), misread (Django got another reading), no "
    "answer, or smuggled (Django also ran the request hidden in the body). Each input declares "
    "its risk, with the RFC section: desync where it decides where the message ends "
    "(Content-Length, Transfer-Encoding, chunk sizes), lenient where it cannot (a field's "
    "contents, line ends, Host). Per input, a severity: fine when rejected or accepted; desync "
    "when lenient or misread on a desync input, or smuggled; lenient when lenient or misread "
    "on a lenient input, when unanswered (nothing reached Django, and a proxy sends nothing "
    "more on that connection before an answer), when the hidden request ran only after the "
    "first was read as the RFC says (the connection was kept open against RFC 9112 6.1, but a "
    "proxy that follows the RFC ends the message at the same place), or when the server passed "
    "Django the request before reading its malformed chunked body and ran no hidden request "
    "after it (its reading of the body is not seen to differ). Then behind nginx with "
    f"one kept-alive upstream connection (keepalive {smuggling_nginx.UPSTREAM_KEEPALIVE}): "
    "each input through nginx, then a clean request from a second client on a new "
    "connection, which nginx sends on the upstream connection the input used; the second "
    "client is affected when its answer is not its own request's. Outcome: no = some input's "
    "severity is desync, or a second client behind nginx was affected; partial = no desync, "
    "but some input is lenient; yes = every input fine."
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


def first_read_as_specified(case: Case, result: Exchange) -> bool:
    """Whether Django's first request is the RFC's reading of an input the RFC lets a server
    accept: a hidden request that ran after it came from bytes the RFC also puts after the
    message, so the server only kept open a connection it had to close."""
    echoes = [response.echo for response in result.responses if response.echo]
    return (
        bool(echoes)
        and case.spec == REJECT_OR_ACCEPT
        and case.expected is not None
        and case.expected(echoes[0])
    )


def first_body_withheld(result: Exchange) -> bool:
    """Whether the server passed Django the first request before reading its chunked body
    (WSGI: no CONTENT_LENGTH, so the view reads nothing)."""
    echoes = [response.echo for response in result.responses if response.echo]
    return bool(echoes) and chunked_body_withheld(echoes[0])


def severity(
    case: Case, kind: str, read_as_specified: bool = False, body_withheld: bool = False
) -> str:
    """How bad the class ``kind`` is on ``case``: the rule THRESHOLDS states.

    ``read_as_specified``: Django's first request was the RFC's reading (a hidden request that
    ran after it only shows the connection was kept open). ``body_withheld``: the server passed
    the request on before reading its chunked body; with no hidden request run, it read no
    request out of that body, so its boundary is not seen to differ from the RFC's."""
    if kind in (REJECTED, ACCEPTED):
        return SEVERITY_FINE
    if kind == NO_ANSWER or (kind == SMUGGLED and read_as_specified):
        return SEVERITY_LENIENT
    if kind == SMUGGLED:
        return SEVERITY_DESYNC
    if case.risk == DESYNC and not body_withheld:
        return SEVERITY_DESYNC
    return SEVERITY_LENIENT


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
        "risk": case.risk,
        "severity": severity(
            case, kind, first_read_as_specified(case, result), first_body_withheld(result)
        ),
        "detail": detail[:300],
        **result.as_record(),
    }


def _listed(cases: list[dict[str, Any]]) -> str:
    def how(case: dict[str, Any]) -> str:
        if case["class"] == SMUGGLED and case["severity"] == SEVERITY_LENIENT:
            return "smuggled after the RFC's reading: the connection was kept open"
        return case["class"]

    return ", ".join(f"{case['id']} ({how(case)})" for case in cases)


def behind_nginx_summary(behind: dict[str, Any] | None) -> str:
    """One sentence on the behind-nginx variant, for the summary."""
    if not behind or not behind.get("measured"):
        reason = (behind or {}).get("reason", "not run")
        return f"Not measured behind nginx: {reason}"
    cases = behind["cases"]
    rejected = sum(case["nginx"] == smuggling_nginx.REJECTED for case in cases)
    forwarded = sum(case["nginx"] == smuggling_nginx.FORWARDED for case in cases)
    affected = [case["id"] for case in cases if case["affected"]]
    said = (
        f"Behind nginx {behind.get('nginx_version') or ''} (one kept-alive upstream connection): "
        f"nginx rejected {rejected} of {len(cases)} inputs itself and forwarded {forwarded}"
    )
    if affected:
        return f"{said}; a second client's answer was affected after {', '.join(affected)}."
    return f"{said}; no second client was affected."


def judge(cases: list[dict[str, Any]], behind: dict[str, Any] | None = None) -> tuple[str, str]:
    """The outcome from each input's severity and the behind-nginx variant (THRESHOLDS)."""
    by_class: dict[str, list[str]] = {}
    for case in cases:
        by_class.setdefault(case["class"], []).append(case["id"])
    counts = ", ".join(
        f"{len(by_class[kind])} {kind}" for kind in FRAMING_CLASSES if kind in by_class
    )
    desync = [case for case in cases if case["severity"] == SEVERITY_DESYNC]
    lenient = [case for case in cases if case["severity"] == SEVERITY_LENIENT]
    measured_behind = behind is not None and behind.get("measured")
    affected = (
        [case["id"] for case in behind["cases"] if case["affected"]] if measured_behind else []
    )
    nginx = f" {behind_nginx_summary(behind)}" if behind is not None else ""
    if desync:
        return "no", (
            f"Desync: {len(desync)} input{'s' if len(desync) > 1 else ''} framed otherwise than "
            f"the RFC, so a proxy in front could be desynchronised: {_listed(desync)} "
            f"({counts}).{nginx}"
        )
    if affected:
        return "no", f"Desync behind nginx: no input desyncs the server alone ({counts}).{nginx}"
    if lenient:
        return "partial", (
            f"No input desyncs, but {len(lenient)} departed from the RFC where that cannot move "
            f"a message's end: {_listed(lenient)} ({counts}).{nginx}"
        )
    return "yes", f"Every input was rejected or read as the RFC says ({counts}).{nginx}"


def behind_nginx(context: CheckContext) -> dict[str, Any]:
    if context.launcher is None:
        return {"measured": False, "reason": "the check ran without a scratch folder for nginx"}
    scratch: Path = context.launcher.scratch / NGINX_FOLDER
    return smuggling_nginx.measure(scratch, address(context))


def run(context: CheckContext) -> Finding:
    cases = [run_case(context, case) for case in CASES]
    behind = behind_nginx(context)
    outcome, summary = judge(cases, behind)
    evidence = {"instance": context.shared.describe(), "cases": cases, "behind_nginx": behind}
    return Finding(outcome, summary, evidence)


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
                "risk": case.risk,
                "risk_reason": case.risk_reason,
            }
            for case in CASES
        ),
    ),
]
