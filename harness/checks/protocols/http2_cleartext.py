"""The http2-cleartext check: does the server answer HTTP/2 with prior knowledge (h2c)?"""

from __future__ import annotations

import httpx

from harness.checks import Check, CheckContext, Finding
from harness.checks.protocols._shared import GROUP, PROBE_ENDPOINT, REQUEST_TIMEOUT_S
from harness.checks.protocols.clients import curl, describe_curl, describe_probe, httpx_probe
from harness.checks.protocols.instances import did_not_start, first_declared, log_since, running
from harness.process import StartError


def check_http2_cleartext(context: CheckContext) -> Finding:
    kind = first_declared(context, ("h2c", "http"))
    assert kind is not None  # "http" is always there
    try:
        with running(context, kind) as instance:
            url = instance.url(context.endpoints[PROBE_ENDPOINT])
            mark = len(instance.log_text())
            with httpx.Client(http1=False, http2=True, timeout=REQUEST_TIMEOUT_S) as client:
                probe = httpx_probe(url, client)
            by_curl = curl(url, "--http2-prior-knowledge")
            evidence = {
                "instance": instance.describe(),
                "client": "httpx with h2, HTTP/2 only (prior knowledge)",
                "httpx": probe,
                "curl": by_curl,
                "server_log": log_since(instance, mark),
            }
    except StartError as error:
        if kind == "h2c" and "ReadTimeout" in error.reason:
            # The start-up probe is this very request (HTTP/2, prior knowledge): the server
            # accepted it and said nothing for the whole start-up time. That is the answer.
            finding = did_not_start(kind, error)
            return Finding(
                "no",
                "With its h2c option the server accepts connections but never answers an "
                f"HTTP/2 request with prior knowledge ({error.reason}).",
                finding.evidence,
            )
        return did_not_start(kind, error)
    where = "its h2c option" if kind == "h2c" else "its plain port (no h2c option declared)"
    if probe["http_version"] == "HTTP/2" and probe["status"] == 200:
        return Finding(
            "yes",
            f"HTTP/2 with prior knowledge answered on {where}: {describe_probe(probe)}; "
            f"{describe_curl(by_curl)}.",
            evidence,
        )
    return Finding(
        "no",
        f"No HTTP/2 with prior knowledge on {where}: {describe_probe(probe)}; "
        f"{describe_curl(by_curl)}.",
        evidence,
    )


CHECK = Check(
    id="http2-cleartext",
    title="HTTP/2 in cleartext (h2c, prior knowledge)",
    group=GROUP,
    question="Does the server answer HTTP/2 with prior knowledge on a cleartext port?",
    thresholds=(
        "yes when an HTTP/2-only httpx client gets a 200 over HTTP/2 from the server's h2c "
        "command (or its plain port if it declares none); no when the connection fails or "
        "the answer is not HTTP/2. curl --http2-prior-knowledge is recorded beside it."
    ),
    run=check_http2_cleartext,
)
