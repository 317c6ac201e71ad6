"""The http3 check: does the server answer over HTTP/3 (QUIC), and does it advertise it?

Browsers reach HTTP/3 only after an HTTPS answer over TCP advertises it in ``Alt-Svc`` (or a
DNS HTTPS record does), so the check reads that header first, over TLS, then sends one GET
over QUIC to the port it names (the HTTPS port when it names none). A server whose definition
declares no ``http3`` command offers none in its pinned version: nothing is started then.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx

from harness.checks import Check, CheckContext, Finding
from harness.checks.protocols._shared import GROUP, PROBE_ENDPOINT, REQUEST_TIMEOUT_S
from harness.checks.protocols.clients import describe_probe
from harness.checks.protocols.http3_client import http3_get
from harness.checks.protocols.instances import did_not_start, first_declared, running, tls_context
from harness.launcher import Instance
from harness.network import HOST
from harness.process import StartError

# An Alt-Svc entry for HTTP/3 (RFC 7838 syntax; "h3", or a draft's "h3-29"): its port.
H3_ALT_SVC = re.compile(r'\bh3(?:-\d+)?="[^":]*:(\d+)"')
# aioquic's client refusing a response field name (aioquic/h3/connection.py,
# validate_header_name): the server answered, but not in valid HTTP/3.
REFUSED_FIELD = re.compile(r"Header b(['\"])(?P<name>.*?)\1 contains invalid characters")
RFC_9114_FIELDS = "https://www.rfc-editor.org/rfc/rfc9114#section-4.2"
# Whose an uppercase field name is under ASGI: the application's. The ASGI spec's
# http.response.start says header names must be lowercased, and Django's ASGI handler sends
# them as the response sets them.
DJANGO_FIELD_CASE = (
    "Django's ASGI handler sends response header names as the response sets them "
    "(Content-Type, Set-Cookie: django/core/handlers/asgi.py), where the ASGI spec's "
    "http.response.start says header names must be lowercased "
    "(https://asgi.readthedocs.io/en/latest/specs/www.html#response-start-send-event); the "
    "server passes them on unchanged, which HTTP/1.1 tolerates and HTTP/3 (RFC 9114 4.2) "
    "does not"
)


def advertised_port(alt_svc: str | None) -> int | None:
    """The port an ``Alt-Svc`` header offers HTTP/3 on, if it offers it."""
    found = H3_ALT_SVC.search(alt_svc or "")
    return int(found.group(1)) if found else None


def _alt_svc_probe(url: str, instance: Instance) -> dict[str, Any]:
    """One GET over HTTPS (TCP): its status and the Alt-Svc header it carried."""
    try:
        with httpx.Client(timeout=REQUEST_TIMEOUT_S, verify=tls_context(instance)) as client:
            response = client.get(url)
    except httpx.HTTPError as error:
        failed = f"{type(error).__name__}: {error}"[:300]
        return {"url": url, "error": failed, "status": None, "http_version": None, "alt_svc": None}
    return {
        "url": url,
        "error": None,
        "status": response.status_code,
        "http_version": response.http_version,
        "alt_svc": ", ".join(response.headers.get_list("alt-svc")) or None,
    }


def refused_field(error: str | None) -> str | None:
    """The response field name the client refused as invalid HTTP/3, if that ended it."""
    found = REFUSED_FIELD.search(error or "")
    return found.group("name") if found else None


def _malformed(name: str) -> str:
    why = "has uppercase letters" if name != name.lower() else "has characters HTTP/3 forbids"
    return (
        f"it answered over QUIC, but its field name {name} {why}, which makes the response "
        f"malformed (RFC 9114 4.2, {RFC_9114_FIELDS}), so the client refused it"
    )


def judge_http3(answer: dict[str, Any], advertised: int | None) -> str:
    if answer["status"] != 200:
        return "no"
    return "yes" if advertised is not None else "partial"


def check_http3(context: CheckContext) -> Finding:
    if first_declared(context, ("http3",)) is None:
        return Finding(
            "no",
            "Not offered: the pinned version has no HTTP/3 (QUIC) option, so its definition "
            f"declares no http3 command (its options: {context.server.docs}).",
            {"declared_commands": sorted(context.server.commands), "docs": context.server.docs},
        )
    try:
        with running(context, "http3") as instance:
            path = context.endpoints[PROBE_ENDPOINT]
            over_tcp = _alt_svc_probe(instance.url(path), instance)
            advertised = advertised_port(over_tcp["alt_svc"])
            port = advertised or urlsplit(instance.base_url).port
            quic_url = f"https://{HOST}:{port}{path}"
            answer = http3_get(quic_url, instance.tls.ca_file, REQUEST_TIMEOUT_S)
            described = instance.describe()
    except StartError as error:
        return did_not_start("http3", error)
    evidence = {
        "instance": described,
        "client": "aioquic 1.7 (QUIC + H3), offering h3 by ALPN, run CA trusted",
        "https": over_tcp,
        "advertised_port": advertised,
        "http3": answer,
    }
    outcome = judge_http3(answer, advertised)
    advert = (
        f"its HTTPS answer advertises Alt-Svc: {over_tcp['alt_svc']}"
        if advertised
        else f"its HTTPS answer ({describe_probe(over_tcp)}) advertises no h3 in Alt-Svc"
        f"{': ' + over_tcp['alt_svc'] if over_tcp['alt_svc'] else ''}"
    )
    if outcome == "no":
        field_name = refused_field(answer["error"])
        evidence["refused_field"] = field_name
        got = (
            _malformed(field_name)
            if field_name
            else answer["error"] or f"answered {answer['status']}"
        )
        summary = f"No HTTP/3 answer with its http3 command ({got}); {advert}."
        if field_name and field_name != field_name.lower() and context.server.interface == "asgi":
            return Finding("no", summary, evidence, "django", f"{DJANGO_FIELD_CASE}.")
        return Finding("no", summary, evidence)
    served = f"HTTP/3 {answer['status']} over QUIC (ALPN {answer['alpn']})"
    if outcome == "partial":
        return Finding(
            "partial",
            f"{served}, but {advert}, so a browser would not find it without a DNS HTTPS record.",
            evidence,
        )
    return Finding("yes", f"{served}; {advert}.", evidence)


CHECK = Check(
    id="http3",
    title="HTTP/3 over QUIC",
    group=GROUP,
    question=(
        "Does the server answer over HTTP/3 (QUIC), and does its HTTPS answer advertise it in "
        "Alt-Svc?"
    ),
    thresholds=(
        "With the definition's http3 command: an HTTPS GET over TCP reads the Alt-Svc header, "
        "then aioquic sends one GET over QUIC (ALPN h3, the run's CA trusted) to the port it "
        "advertises (the HTTPS port when it advertises none), waiting up to "
        f"{REQUEST_TIMEOUT_S:g} s. yes when the QUIC GET answers 200 and Alt-Svc advertises "
        "h3; partial when it answers 200 but nothing advertises it (a browser finds HTTP/3 "
        "only through Alt-Svc or a DNS HTTPS record); no when there is no answer over QUIC, "
        "when the answer is malformed HTTP/3 (a field name with uppercase letters, which RFC "
        "9114 4.2 forbids and tells a client to treat as malformed), or when the pinned version "
        "has no HTTP/3 option (no http3 command: nothing is started). An uppercase field "
        "name under ASGI is the application's (the ASGI spec has it send names lowercased), so "
        "that no is Django's, not the server's."
    ),
    run=check_http3,
)
