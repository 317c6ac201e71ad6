"""The http2-upgrade check: does the server switch HTTP/1.1 to HTTP/2 on Upgrade: h2c?"""

from __future__ import annotations

import re
from typing import Any

from harness.checks import Check, CheckContext, Finding
from harness.checks.protocols._shared import GROUP, PROBE_ENDPOINT
from harness.checks.protocols.clients import curl, describe_curl
from harness.checks.protocols.instances import did_not_start, first_declared, log_since, running
from harness.process import StartError


def upgrade_exchange(curl_stderr: str) -> dict[str, Any]:
    """From ``curl -v``: the request's Upgrade header and the status lines received."""
    lines = curl_stderr.splitlines()
    received = [line[2:].strip() for line in lines if re.match(r"^< HTTP/", line)]
    return {
        "sent_upgrade": any(line.lower().startswith("> upgrade: h2c") for line in lines),
        "status_lines": received,
        "saw_101": any(re.match(r"^HTTP/1\.1 101\b", line) for line in received),
    }


def check_http2_upgrade(context: CheckContext) -> Finding:
    kind = first_declared(context, ("h2c", "http"))
    assert kind is not None
    try:
        with running(context, kind) as instance:
            mark = len(instance.log_text())
            by_curl = curl(instance.url(context.endpoints[PROBE_ENDPOINT]), "-v", "--http2")
            evidence = {
                "instance": instance.describe(),
                "client": "curl --http2 on an http:// URL (sends Upgrade: h2c)",
                "curl": by_curl,
                "server_log": log_since(instance, mark),
            }
    except StartError as error:
        return did_not_start(kind, error)
    exchange = upgrade_exchange(by_curl.get("stderr") or "")
    evidence["exchange"] = exchange
    where = "its h2c option" if kind == "h2c" else "its plain port (no h2c option declared)"
    if by_curl["http_version"] == "2" and by_curl["status"] == 200:
        return Finding(
            "yes",
            f"Upgraded to HTTP/2 on {where}: "
            f"{' then '.join(exchange['status_lines']) or 'HTTP/2 200'}.",
            evidence,
        )
    if by_curl["http_version"] is not None:
        seen = "after a 101" if exchange["saw_101"] else "without a 101"
        detail = f"answered HTTP/{by_curl['http_version']} {by_curl['status']} {seen}"
    else:
        detail = describe_curl(by_curl)
    return Finding("no", f"Upgrade: h2c not honoured on {where}: {detail}.", evidence)


CHECK = Check(
    id="http2-upgrade",
    title="HTTP/2 through Upgrade: h2c",
    group=GROUP,
    question="Does the server switch a cleartext HTTP/1.1 request to HTTP/2 on Upgrade: h2c?",
    thresholds=(
        "yes when curl --http2 on an http:// URL (which sends Upgrade: h2c) ends with a 200 "
        "over HTTP/2; no otherwise. Whether a 101 Switching Protocols was seen is recorded."
    ),
    run=check_http2_upgrade,
)
