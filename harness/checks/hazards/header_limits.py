"""The header-limits check: large and many request headers, and whether the server bounds them
before they reach Django (a server without a bound holds whatever a client sends)."""

from __future__ import annotations

from typing import Any

from harness.checks import Check, CheckContext, Finding
from harness.checks.hazards._shared import GROUP, address
from harness.checks.hazards.raw_http import Address, exchange

LIMIT_S = 5.0
PATH = "/json/sync"  # a small answer: the echo view would send the megabyte back
KIB = 1024
BOUND_LINES = 16  # 16 lines of 64 KiB: 1 MiB of headers, which no real client sends

PROBES = {
    "cookie-16k": "a 16 KiB Cookie header",
    "headers-200": "200 header fields",
    "line-64k": "one 64 KiB header line",
    "headers-1m": f"{BOUND_LINES} header lines of 64 KiB (1 MiB)",
}

THRESHOLDS = (
    f"Four GET requests to {PATH}, each on its own connection: "
    + "; ".join(PROBES.values())
    + ". For each: the status, or the connection's end, and whether Django got the request. "
    "Outcome: yes = the 1 MiB request is refused with an HTTP status (400 or 431) and the "
    "16 KiB cookie reaches Django; partial = the 1 MiB request is refused by closing or "
    "resetting the connection without a status, or the 16 KiB cookie is refused too; no = "
    "1 MiB of headers reaches Django (the server has no header bound)."
)


def probe_request(probe: str, target: Address) -> bytes:
    lines: list[str] = []
    if probe == "cookie-16k":
        lines = ["Cookie: a=" + "c" * (16 * KIB)]
    elif probe == "headers-200":
        lines = [f"X-Field-{number}: {number}" for number in range(200)]
    elif probe == "line-64k":
        lines = ["X-Big: " + "b" * (64 * KIB)]
    elif probe == "headers-1m":
        lines = [f"X-Big-{number}: " + "b" * (64 * KIB) for number in range(BOUND_LINES)]
    fields = "".join(f"{line}\r\n" for line in lines)
    return (
        f"GET {PATH} HTTP/1.1\r\nHost: {target.host_header}\r\n{fields}Connection: close\r\n\r\n"
    ).encode()


def run_probe(target: Address, probe: str) -> dict[str, Any]:
    result = exchange(target, probe_request(probe, target), idle_s=LIMIT_S, limit_s=LIMIT_S)
    first = result.responses[0] if result.responses else None
    reached = bool(first and first.status == 200 and b'"message"' in first.body)
    if reached:
        verdict = "reached Django"
    elif first is not None:
        verdict = f"refused with HTTP {first.status}"
    else:
        verdict = f"connection {result.ended} without a status" + (
            f" ({result.error})" if result.error else ""
        )
    return {
        "probe": probe,
        "description": PROBES[probe],
        "status": first.status if first else None,
        "reached_django": reached,
        "verdict": verdict,
        "ended": result.ended,
        "error": result.error,
        "elapsed_s": round(result.elapsed_s, 3),
        "received_head": result.as_record()["received_head"][:300],
    }


def judge(probes: list[dict[str, Any]]) -> tuple[str, str]:
    said = "; ".join(f"{item['description']}: {item['verdict']}" for item in probes)
    cookie, bound = probes[0], probes[-1]
    if bound["reached_django"]:
        return "no", f"No header bound: 1 MiB of headers reached Django. {said}."
    if bound["status"] is None:
        return "partial", f"1 MiB of headers is refused, but without an HTTP status. {said}."
    if not cookie["reached_django"]:
        return "partial", (
            f"Headers are bounded, but so tightly that a 16 KiB cookie is refused. {said}."
        )
    return "yes", f"Headers are bounded and a 16 KiB cookie passes. {said}."


def run(context: CheckContext) -> Finding:
    target = address(context)
    probes = [run_probe(target, probe) for probe in PROBES]
    outcome, summary = judge(probes)
    return Finding(outcome, summary, {"instance": context.shared.describe(), "probes": probes})


CHECKS = [
    Check(
        id="header-limits",
        title="Request header limits",
        group=GROUP,
        question=(
            "Does the server bound request headers (refusing a megabyte of them with a status) "
            "while passing ordinary large ones, such as a 16 KiB cookie?"
        ),
        thresholds=THRESHOLDS,
        run=run,
    ),
]
