"""The tls check: does the server terminate TLS itself, with the options its docs give?"""

from __future__ import annotations

import httpx

from harness.checks import Check, CheckContext, Finding
from harness.checks.protocols._shared import GROUP, PROBE_ENDPOINT, REQUEST_TIMEOUT_S
from harness.checks.protocols.clients import describe_probe, httpx_probe
from harness.checks.protocols.instances import did_not_start, first_declared, running, tls_context
from harness.process import StartError


def declared_notes(context: CheckContext, *words: str) -> list[str]:
    """The definition's notes that mention any of ``words``: the researched facts behind it."""
    return [note for note in context.server.notes if any(word in note for word in words)]


def check_tls(context: CheckContext) -> Finding:
    if first_declared(context, ("tls",)) is None:
        return Finding(
            "no",
            "Cannot terminate TLS itself: its definition, written from the server's docs, "
            "declares no TLS option; put a TLS-terminating proxy in front.",
            {
                "declared_commands": sorted(context.server.commands),
                "docs": context.server.docs,
                "notes_on_tls": declared_notes(context, "TLS", "HTTPS"),
            },
        )
    try:
        with running(context, "tls") as instance:
            with httpx.Client(timeout=REQUEST_TIMEOUT_S, verify=tls_context(instance)) as client:
                probe = httpx_probe(instance.url(context.endpoints[PROBE_ENDPOINT]), client)
            described = instance.describe()
    except StartError as error:
        return did_not_start("tls", error)
    evidence = {"instance": described, "client": "httpx (HTTP/1.1, run CA trusted)", **probe}
    if probe["error"] or probe["status"] != 200:
        return Finding(
            "no",
            f"TLS request failed with its documented options: {describe_probe(probe)}.",
            evidence,
        )
    return Finding(
        "yes",
        f"Terminates TLS itself with its documented options: {probe['tls_version']} "
        f"({probe['cipher']}), {describe_probe(probe)} (ALPN: {probe['alpn'] or 'none chosen'}).",
        evidence,
    )


CHECK = Check(
    id="tls",
    title="TLS termination",
    group=GROUP,
    question="Does the server terminate TLS itself, with the options its documentation gives?",
    thresholds=(
        "yes when a GET over HTTPS, verified against the run's own CA, answers 200 with the "
        "server started by its definition's TLS command; no when it declares no TLS option "
        "or the request fails."
    ),
    run=check_tls,
)
