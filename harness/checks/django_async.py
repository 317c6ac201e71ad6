"""Django async: do async views, and the async ORM, answer correctly on this server?

Under an ASGI server an async view runs on the server's event loop; under a WSGI server Django
runs it in an event loop of its own per request (async_to_sync). Both should work. Gevent
workers are the known exception: every greenlet shares one OS thread, so with two async
requests in flight asgiref finds the other request's loop running and refuses (a RuntimeError);
single requests and concurrent ones are therefore measured apart. The async ORM hands each query
to a thread, which under gevent is that same OS thread: Django sees the running loop there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from harness.checks import Check, CheckContext, Finding
from harness.checks.upstream import (
    BODY_EXCERPT_CHARS,
    LOG_EXCERPT_CHARS,
    last_exception_line,
    server_log_since,
)

SINGLE_REQUESTS = 3
CONCURRENT_ROUNDS = 3
CONCURRENCY = 2
REQUEST_TIMEOUT_S = 30.0
MAX_DIFFERENCES_LISTED = 10
EXPECTED_JSON = {"message": "hello", "view": "async"}
# The concurrent requests go to an async view that awaits this long, so that they are surely
# in flight together (/json/async answers too fast for that to be certain).
CONCURRENT_SLEEP_S = 0.3
EXPECTED_SLEEP_JSON = {"slept": CONCURRENT_SLEEP_S, "view": "async"}
JUDGEMENT = (
    f"yes: all {SINGLE_REQUESTS} single requests and all {CONCURRENT_ROUNDS} rounds of "
    f"{CONCURRENCY} concurrent requests are correct; partial: every single request is correct "
    "but some concurrent ones are not; no: a single request is not correct."
)

# A validator turns a response into (problem or None, details worth keeping).
Validator = Callable[[httpx.Response], tuple[str | None, dict[str, Any]]]


def _record(
    response: httpx.Response | None, error: Exception | None, ms: float, validate: Validator
) -> dict[str, Any]:
    if response is None:
        problem = f"{type(error).__name__}: {error}"[:300]
        return {"status": None, "ms": ms, "problem": problem}
    problem, details = validate(response)
    record: dict[str, Any] = {"status": response.status_code, "ms": ms, "problem": problem}
    record.update(details)
    if problem:
        record["body_excerpt"] = response.text[:BODY_EXCERPT_CHARS]
    return record


def single_requests(url: str, validate: Validator, count: int) -> list[dict[str, Any]]:
    """``count`` requests one after another."""
    records = []
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        for _ in range(count):
            started = time.perf_counter()
            try:
                response, error = client.get(url), None
            except httpx.HTTPError as failure:
                response, error = None, failure
            ms = (time.perf_counter() - started) * 1000
            records.append(_record(response, error, ms, validate))
    return records


async def _concurrent_round(url: str, validate: Validator, size: int) -> list[dict[str, Any]]:
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT_S) as client:

        async def one() -> dict[str, Any]:
            started = time.perf_counter()
            try:
                response, error = await client.get(url), None
            except httpx.HTTPError as failure:
                response, error = None, failure
            ms = (time.perf_counter() - started) * 1000
            return _record(response, error, ms, validate)

        return list(await asyncio.gather(*(one() for _ in range(size))))


def concurrent_rounds(url: str, validate: Validator, rounds: int, size: int) -> list[list[dict]]:
    """``rounds`` times, ``size`` requests at once on separate connections."""
    return [asyncio.run(_concurrent_round(url, validate, size)) for _ in range(rounds)]


def _failures(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [record for record in records if record["problem"]]


def judge(single: list[dict[str, Any]], concurrent: list[list[dict[str, Any]]]) -> str:
    if _failures(single):
        return "no"
    if any(_failures(round_) for round_ in concurrent):
        return "partial"
    return "yes"


def failure_text(records: list[dict[str, Any]], what: str, log: str) -> str:
    """``2 of 6 concurrent requests: HTTP 500 (RuntimeError: ...)``, each problem once."""
    failed = _failures(records)
    problems = ", ".join(sorted({record["problem"] for record in failed}))
    reason = last_exception_line(log)
    text = f"{len(failed)} of {len(records)} {what} requests: {problems}"
    return text + (f" ({reason})" if reason else "")


def _flatten(concurrent: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [record for round_ in concurrent for record in round_]


def measure(
    context: CheckContext,
    single: tuple[str, Validator],
    concurrent: tuple[str, Validator],
) -> tuple[str, dict[str, Any], str]:
    """Outcome, evidence and what failed, for single and concurrent requests (url, validator)."""
    log_offset = len(context.shared.log_text())
    single_records = single_requests(*single, SINGLE_REQUESTS)
    concurrent_records = concurrent_rounds(*concurrent, CONCURRENT_ROUNDS, CONCURRENCY)
    log = server_log_since(context, log_offset)
    evidence: dict[str, Any] = {"single": single_records, "concurrent_rounds": concurrent_records}
    outcome = judge(single_records, concurrent_records)
    if outcome == "no":
        failures = failure_text(single_records, "single", log)
    else:
        failures = failure_text(_flatten(concurrent_records), "concurrent", log)
    if outcome != "yes":
        evidence["server_log"] = log[-LOG_EXCERPT_CHARS:]
    return outcome, evidence, failures


def _counts_text() -> str:
    return (
        f"{SINGLE_REQUESTS} single requests and {CONCURRENT_ROUNDS} rounds of {CONCURRENCY} "
        "concurrent ones"
    )


# --- async-view ---------------------------------------------------------------------------


def _json_problem(response: httpx.Response, expected: dict[str, Any]) -> str | None:
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        return "HTTP 200 but the body is not JSON"
    if body != expected:
        return "HTTP 200 but not the expected JSON"
    return None


def expecting(expected: dict[str, Any]) -> Validator:
    """A validator for a response that must be exactly ``expected`` as JSON."""

    def validate(response: httpx.Response) -> tuple[str | None, dict[str, Any]]:
        return _json_problem(response, expected), {}

    return validate


def run_async_view(context: CheckContext) -> Finding:
    single_url = context.url("json_async")
    concurrent_url = context.url("sleep_async", f"seconds={CONCURRENT_SLEEP_S:g}")
    outcome, measured, failures = measure(
        context,
        (single_url, expecting(EXPECTED_JSON)),
        (concurrent_url, expecting(EXPECTED_SLEEP_JSON)),
    )
    evidence = {
        "instance": context.shared.describe(),
        "single_path": context.endpoints["json_async"],
        "concurrent_path": f"{context.endpoints['sleep_async']}?seconds={CONCURRENT_SLEEP_S:g}",
        "expected": {"single": EXPECTED_JSON, "concurrent": EXPECTED_SLEEP_JSON},
        **measured,
    }
    interface = context.server.interface.upper()
    summary = {
        "yes": f"Answers correctly under {interface}: {_counts_text()}, all 200 with the "
        "expected JSON.",
        "partial": f"Single requests are answered correctly, concurrent ones fail: {failures}.",
        "no": f"Fails under {interface}: {failures}.",
    }[outcome]
    return Finding(outcome, summary, evidence)


# --- orm-async ----------------------------------------------------------------------------


def row_counts(body: dict[str, Any]) -> dict[str, Any]:
    questions = body.get("questions") or []
    return {
        "total": body.get("total"),
        "questions": len(questions),
        "choices": sum(len(question.get("choices") or []) for question in questions),
    }


def row_differences(reference: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Which questions are missing, extra or different in ``body`` (empty when identical)."""
    expected = {question["id"]: question for question in reference["questions"]}
    got = {
        question.get("id"): question
        for question in body.get("questions") or []
        if isinstance(question, dict)
    }
    differences: dict[str, Any] = {}
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected), key=str)
    changed = sorted(key for key in set(expected) & set(got) if expected[key] != got[key])
    for name, ids in (("missing_ids", missing), ("extra_ids", extra), ("changed_ids", changed)):
        if ids:
            differences[name] = ids[:MAX_DIFFERENCES_LISTED]
    if body.get("total") != reference["total"]:
        differences["total"] = {"expected": reference["total"], "got": body.get("total")}
    if [q["id"] for q in reference["questions"]] != list(got) and not differences:
        differences["order"] = "same questions in another order"
    return differences


def orm_validator(reference: dict[str, Any]) -> Validator:
    def validate(response: httpx.Response) -> tuple[str | None, dict[str, Any]]:
        if response.status_code != 200:
            return f"HTTP {response.status_code}", {}
        try:
            body = response.json()
        except ValueError:
            return "HTTP 200 but the body is not JSON", {}
        if not isinstance(body, dict) or not isinstance(body.get("questions"), list):
            return "HTTP 200 but no questions list", {}
        details: dict[str, Any] = {"rows": row_counts(body)}
        differences = row_differences(reference, body)
        if differences:
            details["differences"] = differences
            return "HTTP 200 but rows differ from the sync view", details
        if body.get("view") != "async":
            return f"HTTP 200 but view is {body.get('view')!r}, not 'async'", details
        return None, details

    return validate


def sync_reference(context: CheckContext) -> tuple[dict[str, Any] | None, str | None]:
    """The sync ORM view's answer, the rows to expect; or why there is none."""
    try:
        response = httpx.get(context.url("orm_sync"), timeout=REQUEST_TIMEOUT_S)
    except httpx.HTTPError as error:
        return None, f"{type(error).__name__}: {error}"[:300]
    if response.status_code != 200:
        return None, f"HTTP {response.status_code}: {response.text[:BODY_EXCERPT_CHARS]}"
    try:
        body = response.json()
    except ValueError:
        return None, "its body is not JSON"
    if not isinstance(body, dict) or not body.get("questions"):
        return None, "it returned no questions (was the database loaded with load_polls?)"
    return body, None


def run_orm_async(context: CheckContext) -> Finding:
    evidence: dict[str, Any] = {
        "instance": context.shared.describe(),
        "reference_path": context.endpoints["orm_sync"],
    }
    reference, problem = sync_reference(context)
    if reference is None:
        return Finding(
            "error", f"Not measured: the sync ORM view (the reference) failed: {problem}", evidence
        )
    counts = row_counts(reference)
    evidence["reference_rows"] = counts
    url, validate = context.url("orm_async"), orm_validator(reference)
    outcome, measured, failures = measure(context, (url, validate), (url, validate))
    evidence["path"] = context.endpoints["orm_async"]
    evidence.update(measured)
    rows = f"{counts['questions']} questions and {counts['choices']} choices"
    summary = {
        "yes": f"Correct: the same {rows} as the sync view, in {_counts_text()}.",
        "partial": f"Single requests return the same {rows} as the sync view, concurrent "
        f"ones fail: {failures}.",
        "no": f"Fails: {failures}; the sync view returns {rows}.",
    }[outcome]
    return Finding(outcome, summary, evidence)


CHECKS = [
    Check(
        id="async-view",
        title="Async view",
        group="Django async",
        question="Does an async view answer correctly on this server (under WSGI too)?",
        thresholds=(
            f"Single requests go to /json/async and must answer HTTP 200 with exactly "
            f"{EXPECTED_JSON}; concurrent ones go to /sleep/async?seconds={CONCURRENT_SLEEP_S:g}, "
            f"an async view that waits, so both are in flight together, and must answer HTTP "
            f"200 with exactly {EXPECTED_SLEEP_JSON}. {JUDGEMENT}"
        ),
        run=run_async_view,
    ),
    Check(
        id="orm-async",
        title="Async ORM",
        group="Django async",
        question="Does the async ORM view return the same rows as the sync ORM view?",
        thresholds=(
            "Correct: HTTP 200 and the same total and questions (with their choices) as the "
            "sync ORM view on the same database, asked once before. error: the sync view "
            f"fails or returns no questions, so there is nothing to compare. {JUDGEMENT}"
        ),
        run=run_orm_async,
    ),
]
