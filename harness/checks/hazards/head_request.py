"""The head-request check: a HEAD response has the headers of the GET response and no body."""

from __future__ import annotations

from harness.checks import Check, CheckContext, Finding
from harness.checks.hazards._shared import GROUP, address
from harness.checks.hazards.raw_http import Address, escaped, exchange

LIMIT_S = 5.0
PATH = "/json/sync"

THRESHOLDS = (
    f"HEAD and then GET {PATH}, each on its own connection with Connection: close, read until "
    "the server closes. Outcome: yes = no byte after the HEAD response's headers and the same "
    "Content-Length as the GET; partial = no body, but the Content-Length is missing or "
    "differs; no = the HEAD response carries a body (a keep-alive client then reads it as the "
    "start of the next response)."
)


def _request(method: str, target: Address) -> bytes:
    return (
        f"{method} {PATH} HTTP/1.1\r\nHost: {target.host_header}\r\nConnection: close\r\n\r\n"
    ).encode()


def run(context: CheckContext) -> Finding:
    target = address(context)
    head = exchange(target, _request("HEAD", target), idle_s=LIMIT_S, limit_s=LIMIT_S, head=True)
    get = exchange(target, _request("GET", target), idle_s=LIMIT_S, limit_s=LIMIT_S)
    evidence = {
        "instance": context.shared.describe(),
        "head": head.as_record(),
        "get": get.as_record(),
    }
    if not head.responses or not get.responses:
        return Finding("error", "No response to HEAD or GET.", evidence)
    header_end = head.received.find(b"\r\n\r\n") + 4
    extra = head.received[header_end:]
    evidence["bytes_after_head_headers"] = len(extra)
    evidence["after_head_headers"] = escaped(extra[:300])
    head_length = head.responses[0].header("content-length")
    get_length = get.responses[0].header("content-length")
    lengths = f"Content-Length {head_length} on HEAD, {get_length} on GET"
    if extra:
        return Finding(
            "no", f"The HEAD response carried {len(extra)} body bytes ({lengths}).", evidence
        )
    if head_length != get_length:
        return Finding("partial", f"No body, but {lengths}.", evidence)
    return Finding("yes", f"No body; {lengths}.", evidence)


CHECKS = [
    Check(
        id="head-request",
        title="HEAD requests",
        group=GROUP,
        question="Does a HEAD request get the GET response's headers and no body?",
        thresholds=THRESHOLDS,
        run=run,
    ),
]
