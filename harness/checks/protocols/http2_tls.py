"""The http2-tls check: is HTTP/2 negotiated over TLS by ALPN when the client offers h2?"""

from __future__ import annotations

import httpx

from harness.checks import Check, CheckContext, Finding
from harness.checks.protocols._shared import GROUP, PROBE_ENDPOINT, REQUEST_TIMEOUT_S
from harness.checks.protocols.clients import curl, describe_curl, describe_probe, httpx_probe
from harness.checks.protocols.instances import did_not_start, first_declared, running, tls_context
from harness.process import StartError


def check_http2_tls(context: CheckContext) -> Finding:
    kind = first_declared(context, ("http2_tls", "tls"))
    if kind is None:
        return Finding(
            "no",
            "No HTTP/2 over TLS: the server cannot terminate TLS itself (no TLS option in its "
            "definition), so there is no ALPN to negotiate h2.",
            {"declared_commands": sorted(context.server.commands)},
        )
    try:
        with running(context, kind) as instance:
            url = instance.url(context.endpoints[PROBE_ENDPOINT])
            with httpx.Client(
                http2=True, timeout=REQUEST_TIMEOUT_S, verify=tls_context(instance)
            ) as client:
                probe = httpx_probe(url, client)
            by_curl = curl(url, "--http2", "--cacert", str(instance.tls.ca_file))
            described = instance.describe()
    except StartError as error:
        return did_not_start(kind, error)
    evidence = {
        "instance": described,
        "client": "httpx with h2, offering h2 and http/1.1 by ALPN, run CA trusted",
        "httpx": probe,
        "curl": by_curl,
    }
    which = "its HTTP/2 option" if kind == "http2_tls" else "its TLS option (no HTTP/2 option)"
    if probe["http_version"] == "HTTP/2" and probe["status"] == 200:
        return Finding(
            "yes",
            f"HTTP/2 negotiated by ALPN ({probe['alpn']}) with {which}: "
            f"{describe_probe(probe)}; {describe_curl(by_curl)}.",
            evidence,
        )
    negotiated = ""
    if not probe["error"]:
        negotiated = (
            f"ALPN chose {probe['alpn']}, " if probe["alpn"] else "no ALPN protocol chosen, "
        )
    return Finding(
        "no",
        f"No HTTP/2 over TLS with {which}: {negotiated}{describe_probe(probe)}; "
        f"{describe_curl(by_curl)}.",
        evidence,
    )


CHECK = Check(
    id="http2-tls",
    title="HTTP/2 over TLS (ALPN)",
    group=GROUP,
    question="Is HTTP/2 negotiated over TLS by ALPN when the client offers h2?",
    thresholds=(
        "yes when httpx, offering h2 and http/1.1, gets a 200 over HTTP/2 from the server's "
        "HTTP/2 command (or its TLS command if it declares none); no otherwise. curl's "
        "negotiated version is recorded beside it."
    ),
    run=check_http2_tls,
)
