"""The forwarded-headers check: may any client set what Django believes about the peer
(REMOTE_ADDR, the scheme, the host) with X-Forwarded-* or Forwarded headers?

A proxy on the same machine connects from 127.0.0.1, so the check sends the same headers from
127.0.0.1 (where servers that trust a local proxy by default honour them) and from 127.0.0.2,
a loopback address that stands for any other peer: no server trusts that one by default."""

from __future__ import annotations

from typing import Any

from harness.checks import Check, CheckContext, Finding
from harness.checks.hazards._shared import GROUP, address
from harness.checks.hazards.raw_http import exchange

LIMIT_S = 5.0
TRUSTED_PEER = "127.0.0.1"
OTHER_PEER = "127.0.0.2"
CLAIMED_ADDRESS = "203.0.113.7"  # TEST-NET-3: no real client
FORWARDED_FIELDS = (
    f"X-Forwarded-For: {CLAIMED_ADDRESS}",
    "X-Forwarded-Proto: https",
    "X-Forwarded-Host: forwarded.example",
    f"Forwarded: for={CLAIMED_ADDRESS};proto=https;host=forwarded.example",
)

THRESHOLDS = (
    "GET of the echo view with "
    + ", ".join(field.split(":")[0] for field in FORWARDED_FIELDS)
    + f" claiming {CLAIMED_ADDRESS} over https, sent from {TRUSTED_PEER} and from {OTHER_PEER}. "
    "Outcome: yes = from the other peer Django sees its real address and http; no = a peer "
    "that is not a proxy changed REMOTE_ADDR or made the request look secure. What the "
    f"{TRUSTED_PEER} request saw says whether a local proxy's headers are honoured by default."
)


def seen_from(context: CheckContext, peer: str) -> dict[str, Any]:
    target = address(context)
    fields = "".join(f"{field}\r\n" for field in FORWARDED_FIELDS)
    request = (
        f"GET /echo HTTP/1.1\r\nHost: {target.host_header}\r\n{fields}Connection: close\r\n\r\n"
    ).encode()
    result = exchange(target, request, idle_s=LIMIT_S, limit_s=LIMIT_S, source=peer)
    echo = result.responses[0].echo if result.responses else None
    seen = (
        {key: echo.get(key) for key in ("remote_addr", "scheme", "is_secure", "host")}
        if echo
        else None
    )
    return {"peer": peer, "django_saw": seen, **result.as_record()}


def _phrase(seen: dict[str, Any]) -> str:
    return f"REMOTE_ADDR {seen['remote_addr']}, scheme {seen['scheme']}, host {seen['host']}"


def run(context: CheckContext) -> Finding:
    trusted = seen_from(context, TRUSTED_PEER)
    other = seen_from(context, OTHER_PEER)
    evidence = {"instance": context.shared.describe(), "from_trusted": trusted, "from_other": other}
    if trusted["django_saw"] is None or other["django_saw"] is None:
        return Finding("error", "The echo view did not answer both requests.", evidence)
    seen = other["django_saw"]
    local = f"From {TRUSTED_PEER} Django saw {_phrase(trusted['django_saw'])}."
    spoofed = [
        what
        for what, changed in (
            ("REMOTE_ADDR", seen["remote_addr"] != OTHER_PEER),
            ("the scheme", seen["scheme"] != "http" or seen["is_secure"]),
        )
        if changed
    ]
    if spoofed:
        return Finding(
            "no",
            f"Any peer can set {' and '.join(spoofed)}: from {OTHER_PEER} Django saw "
            f"{_phrase(seen)}. {local}",
            evidence,
        )
    return Finding("yes", f"From {OTHER_PEER} Django saw {_phrase(seen)}. {local}", evidence)


CHECKS = [
    Check(
        id="forwarded-headers",
        title="Forwarded headers from untrusted peers",
        group=GROUP,
        question=(
            "Are X-Forwarded-For / X-Forwarded-Proto / Forwarded ignored from a peer that is "
            "not a trusted proxy, so a client cannot fake its address or HTTPS?"
        ),
        thresholds=THRESHOLDS,
        run=run,
    ),
]
