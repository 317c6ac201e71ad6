"""The header-underscores check: can a client set what Django reads as X-Forwarded-For,
X-Forwarded-Proto or X-Forwarded-Host by spelling the header name with underscores
(``X_Forwarded_For``), which a proxy that strips or sets the hyphenated header lets through?

META names a header HTTP_<NAME> with hyphens turned into underscores, so ``X-Forwarded-For``
and ``X_Forwarded_For`` both map to HTTP_X_FORWARDED_FOR (the CVE-2026-3902 class). Under WSGI
the server builds that environ; under ASGI Django builds META from the scope's raw headers
(django/core/handlers/asgi.py, ``ASGIRequest.__init__``), and the sample project's echo view
shows those scope headers too, so the check can tell which of the two merged the names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.checks import Check, CheckContext, Finding
from harness.checks.hazards._shared import GROUP, address
from harness.checks.hazards.raw_http import Response, exchange

LIMIT_S = 5.0
CLAIMED_ADDRESS = "203.0.113.7"  # TEST-NET-3: what the underscore header claims
PROXY_ADDRESS = "198.51.100.1"  # TEST-NET-2: what a proxy's hyphenated header says
FORWARDED_FOR = "HTTP_X_FORWARDED_FOR"

# What one probe's underscore header did to its META key.
SET = "set"  # alone, it set the key
REPLACED = "replaced"  # beside the hyphenated header, only its value is in the key
JOINED = "joined"  # beside the hyphenated header, both values are in the key
HYPHEN_ONLY = "hyphen-only"  # beside the hyphenated header, only the hyphenated value
KEPT_APART = "kept-apart"  # its value reached META under another key
DROPPED = "dropped"  # its value is nowhere in META
REFUSED = "refused"  # the request was answered 4xx before Django
NO_ANSWER = "no-answer"  # no echo and no refusal: nothing to judge
SPOOFED_BESIDE = (REPLACED, JOINED)
READINGS = (SET, REPLACED, JOINED, HYPHEN_ONLY, KEPT_APART, DROPPED, REFUSED, NO_ANSWER)


@dataclass(frozen=True)
class Probe:
    id: str
    fields: tuple[str, ...]  # header lines, in the order they are sent
    key: str  # the META key the underscore header maps to
    underscore_name: str
    underscore_value: str
    beside_hyphenated: bool = False  # the hyphenated header is sent too

    def request(self, host_header: str) -> bytes:
        lines = "".join(f"{field}\r\n" for field in self.fields)
        return (
            f"GET /echo HTTP/1.1\r\nHost: {host_header}\r\n{lines}Connection: close\r\n\r\n"
        ).encode()


def _alone(id: str, name: str, value: str) -> Probe:
    key = "HTTP_" + name.upper()
    return Probe(id, (f"{name}: {value}",), key, name, value)


def _beside(id: str, underscore_first: bool) -> Probe:
    underscore = f"X_Forwarded_For: {CLAIMED_ADDRESS}"
    hyphenated = f"X-Forwarded-For: {PROXY_ADDRESS}"
    fields = (underscore, hyphenated) if underscore_first else (hyphenated, underscore)
    return Probe(id, fields, FORWARDED_FOR, "X_Forwarded_For", CLAIMED_ADDRESS, True)


# The hyphenated header alone: the server answers the echo view and shows the key, so what the
# underscore probes did is not an artefact of a server that hides forwarded headers altogether.
CONTROL = Probe(
    "hyphenated",
    (f"X-Forwarded-For: {PROXY_ADDRESS}",),
    FORWARDED_FOR,
    "X-Forwarded-For",
    PROXY_ADDRESS,
)
FORWARDED_PROBES = (
    _alone("for", "X_Forwarded_For", CLAIMED_ADDRESS),
    _alone("proto", "X_Forwarded_Proto", "https"),
    _alone("host", "X_Forwarded_Host", "spoofed.example"),
)
# A proxy puts its own header before or after the client's: both orders are sent.
PAIR_PROBES = (_beside("underscore-last", False), _beside("underscore-first", True))
GENERAL_PROBE = _alone("general", "Foo_Bar", "x")  # underscore headers in general
UNDERSCORE_PROBES = (*FORWARDED_PROBES, *PAIR_PROBES, GENERAL_PROBE)
PROBES = (CONTROL, *UNDERSCORE_PROBES)

THRESHOLDS = (
    "GET of the echo view, one request per connection, with "
    + "; ".join(" + ".join(probe.fields) for probe in UNDERSCORE_PROBES)
    + f" (and {CONTROL.fields[0]} alone, which must reach {FORWARDED_FOR}, unless every "
    "underscore header, Foo_Bar included, was dropped or refused: a server that hides "
    "forwarded headers from an untrusted peer hides the control too). "
    "Outcome: yes = no underscore header put its value in an HTTP_X_FORWARDED_* key (dropped, "
    "refused with a 4xx, or kept under another key); partial = alone, an underscore header "
    "sets its HTTP_X_FORWARDED_* key, but beside the hyphenated header, in either order, only "
    "the hyphenated value reaches META (safe behind a proxy that always sets the header, not "
    "behind one that only removes it); no = beside the hyphenated header the underscore value "
    "replaced it or was joined to it. Foo_Bar shows what happens to underscore headers in "
    "general and does not change the outcome. The sample project sets neither "
    "SECURE_PROXY_SSL_HEADER nor USE_X_FORWARDED_HOST, so the check reads the META keys a "
    "project with those settings (or a middleware reading them) would trust. Cause: the "
    "server's under WSGI (its environ is META) and under ASGI when the scope already held the "
    "hyphenated name; Django's when the scope held the underscore name and Django's "
    "ASGIRequest mapped it into META."
)


def _values(meta_value: str | None) -> list[str]:
    return [part.strip() for part in meta_value.split(",")] if meta_value else []


def reading(probe: Probe, response: Response | None) -> tuple[str, str | None]:
    """What the underscore header of ``probe`` did (one of the constants above), and the META
    key that kept its value apart, for KEPT_APART."""
    echo = response.echo if response else None
    if echo is None:
        refused = response is not None and response.status is not None
        return (REFUSED if refused and 400 <= response.status < 500 else NO_ANSWER), None
    headers = echo.get("headers") or {}
    values = _values(headers.get(probe.key))
    if probe.underscore_value in values:
        if not probe.beside_hyphenated:
            return SET, None
        return (JOINED if PROXY_ADDRESS in values else REPLACED), None
    elsewhere = sorted(key for key, value in headers.items() if value == probe.underscore_value)
    if elsewhere:
        return KEPT_APART, elsewhere[0]
    return (HYPHEN_ONLY if probe.beside_hyphenated and values else DROPPED), None


def probe_record(context: CheckContext, probe: Probe) -> dict[str, Any]:
    """One probe's request and what came back, with its reading."""
    target = address(context)
    result = exchange(target, probe.request(target.host_header), idle_s=LIMIT_S, limit_s=LIMIT_S)
    response = result.responses[0] if result.responses else None
    what, kept_under = reading(probe, response)
    echo = response.echo if response else None
    return {
        "id": probe.id,
        "sent": list(probe.fields),
        "key": probe.key,
        "reading": what,
        "meta_value": (echo.get("headers") or {}).get(probe.key) if echo else None,
        "kept_under": kept_under,
        "scope_names": (
            [name for name, _ in echo["scope_headers"]]
            if echo and echo.get("scope_headers") is not None
            else None
        ),
        **result.as_record(),
    }


def cause_of(context: CheckContext, spoofing: list[dict[str, Any]]) -> tuple[str, str]:
    """(cause, cause_detail) of a no or partial: the server's unless, under ASGI, the scope
    held the underscore name as sent and Django's ASGIRequest mapped it into META."""
    if context.server.interface != "asgi":
        return "server", ""
    underscore_names = {probe.underscore_name.lower() for probe in UNDERSCORE_PROBES}
    django_mapped = any(underscore_names & set(record["scope_names"] or ()) for record in spoofing)
    if not django_mapped:
        return "server", ""
    return "django", (
        "The server passed the underscore name in the ASGI scope and Django's ASGIRequest "
        "(django/core/handlers/asgi.py) mapped it to the same HTTP_ key as the hyphenated "
        "name; Django 6.0.4, 5.2.13 and 4.2.30 skip such names (CVE-2026-3902)."
    )


_PHRASES = {
    SET: "set {key}",
    REPLACED: "replaced the hyphenated value ({key} = {value!r})",
    JOINED: "was joined to the hyphenated value ({key} = {value!r})",
    HYPHEN_ONLY: "was left out ({key} = {value!r})",
    KEPT_APART: "was kept apart as {kept}",
    DROPPED: "was dropped",
    REFUSED: "was refused ({status})",
    NO_ANSWER: "got no answer",
}


def phrase(record: dict[str, Any]) -> str:
    status = record["responses"][0]["status"] if record["responses"] else None
    return _PHRASES[record["reading"]].format(
        key=record["key"], value=record["meta_value"], kept=record["kept_under"], status=status
    )


def describe(records: dict[str, dict[str, Any]]) -> str:
    alone = ", ".join(
        f"{probe.underscore_name} {phrase(records[probe.id])}" for probe in FORWARDED_PROBES
    )
    beside = ", ".join(
        f"sent {'before' if probe.fields[0].startswith(probe.underscore_name) else 'after'} it, "
        f"{probe.underscore_name} {phrase(records[probe.id])}"
        for probe in PAIR_PROBES
    )
    general_record = records[GENERAL_PROBE.id]
    general = (
        f"reached META as {GENERAL_PROBE.key}"
        if general_record["reading"] == SET
        else phrase(general_record)
    )
    return (
        f"Alone: {alone}. Beside X-Forwarded-For: {beside}. "
        f"{GENERAL_PROBE.underscore_name}: {general}.{scope_note(records)}"
    )


def scope_note(records: dict[str, dict[str, Any]]) -> str:
    """Under ASGI, whether the server passed the underscore names on in the scope, so that what
    META got of them was Django's doing; empty under WSGI."""
    names = [probe.underscore_name for probe in FORWARDED_PROBES]
    scopes = [records[probe.id]["scope_names"] for probe in FORWARDED_PROBES]
    if any(scope is None for scope in scopes):
        return ""
    kept = [name for name, scope in zip(names, scopes, strict=True) if name.lower() in scope]
    if not kept:
        return " The server renamed or dropped the underscore names before the ASGI scope."
    return (
        f" The ASGI scope held {', '.join(kept)} as sent; Django's ASGIRequest decided what "
        "META got."
    )


def dropped_everywhere(records: dict[str, dict[str, Any]]) -> bool:
    """Every underscore header dropped or refused, Foo_Bar too: the server keeps underscore
    names out of META in general, whatever it does with forwarded headers."""
    return all(records[probe.id]["reading"] in (DROPPED, REFUSED) for probe in UNDERSCORE_PROBES)


def run(context: CheckContext) -> Finding:
    records = {probe.id: probe_record(context, probe) for probe in PROBES}
    evidence = {"instance": context.shared.describe(), "probes": list(records.values())}
    control = records[CONTROL.id]
    if control["reading"] == DROPPED and dropped_everywhere(records):
        # A server may clear forwarded headers from a peer it does not trust (Waitress 3 does
        # by default), which hides the control; Foo_Bar, which no such rule touches, dropped
        # too shows that the underscore names never reach META, trusted peer or not.
        return Finding(
            "yes",
            "No underscore header reached META, Foo_Bar included; the hyphenated "
            f"{CONTROL.fields[0]} alone was dropped too (the server hides forwarded headers "
            "from this peer). " + describe(records),
            evidence,
        )
    if control["reading"] != SET:
        return Finding(
            "error",
            f"{CONTROL.fields[0]} alone did not reach {FORWARDED_FOR} through the echo view "
            f"(it {phrase(control)}), and not every underscore header was dropped, so the "
            "underscore probes cannot be read.",
            evidence,
        )
    unanswered = [record["id"] for record in records.values() if record["reading"] == NO_ANSWER]
    if unanswered:
        return Finding(
            "error", f"The echo view did not answer the {', '.join(unanswered)} probe(s).", evidence
        )
    details = describe(records)
    spoofing = [records[p.id] for p in PAIR_PROBES if records[p.id]["reading"] in SPOOFED_BESIDE]
    if spoofing:
        cause, detail = cause_of(context, spoofing)
        return Finding(
            "no",
            "Even beside the X-Forwarded-For a proxy sets, an underscore header changes it. "
            + details,
            evidence,
            cause,
            detail,
        )
    setting = [records[p.id] for p in FORWARDED_PROBES if records[p.id]["reading"] == SET]
    if setting:
        cause, detail = cause_of(context, setting)
        return Finding(
            "partial",
            "An underscore header sets a forwarded header a proxy did not set, but not one it "
            "did. " + details,
            evidence,
            cause,
            detail,
        )
    return Finding("yes", "No underscore header reached a forwarded header. " + details, evidence)


CHECKS = [
    Check(
        id="header-underscores",
        title="Header names with underscores",
        group=GROUP,
        question=(
            "Can a client set or override X-Forwarded-For / -Proto / -Host as Django sees them "
            "by sending X_Forwarded_For / _Proto / _Host, which a proxy stripping the "
            "hyphenated names lets through (CVE-2026-3902)?"
        ),
        thresholds=THRESHOLDS,
        run=run,
    ),
]
