"""The static-files check: is a collected static file served as deployed, byte for byte, with
its type, caching headers and byte ranges, without Django's buffering warning, and at what cost
per request beside a tiny dynamic view?

The production stack serves static files from Django: WhiteNoise under WSGI, ServeStatic (its
async fork) under ASGI (sampleproject/sampleproject/settings.py, DJANGO_STATIC_MIDDLEWARE).
WhiteNoise under ASGI hands Django a sync file iterator; Django's ASGI handler then warns
"StreamingHttpResponse must consume synchronous iterators" and reads the whole file into a list
in a thread before it sends a byte. Under ASGI the check also measures that variant, labelled,
so the site shows why ServeStatic is the ASGI default. Where a server has a static mount of its
own (Granian's --static-path-mount, uWSGI's --static-map), the definitions declare it as an
option and the check runs again with it: the server then answers before Django.

The development-mode check (``dev-static``) asks only whether runserver-style serving works at
all; this one is about the production setup on the shared instance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.checks import Check, CheckContext, Finding
from harness.checks.operations._shared import GROUP
from harness.checks.operations.static_probes import (
    COST_REQUESTS,
    RANGE_LENGTH,
    costs,
    media_type,
    probe,
)
from harness.launcher import Instance
from harness.process import StartError

FILE_ENDPOINT = "large_css"  # endpoints.toml [collected_static_files]
STATIC_URL_PREFIX = "/static/"  # settings.STATIC_URL, under which the file lies in STATIC_ROOT
EXPECTED_MEDIA_TYPE = "text/css"
# The tiny dynamic view the cost is compared with: the interface's own idiom.
DYNAMIC_ENDPOINTS = {"wsgi": "json_sync", "asgi": "json_async"}
# What Django's ASGI handler warns (django/http/response.py, StreamingHttpResponse.__aiter__)
# before it reads a sync iterator whole in a thread.
BUFFERING_WARNING = "StreamingHttpResponse must consume synchronous iterators"
MIDDLEWARE_VARIABLE = "DJANGO_STATIC_MIDDLEWARE"
ASGI_VARIANT_ID = "whitenoise-under-asgi"
ASGI_VARIANT_ENV = {MIDDLEWARE_VARIABLE: "whitenoise"}
LOG_EXCERPT_CHARS = 2000
DECIDED_BY_SETTING = (
    "The sample project's settings choose the static-files middleware "
    f"({MIDDLEWARE_VARIABLE}, sampleproject/sampleproject/settings.py), which answers this "
    "request before any view"
)

THRESHOLDS = (
    "On the shared instance (sized as deployed), the collected 1 MiB stylesheet "
    "(/static/demo/large.css, made by `manage.py make_large_static` after `collectstatic`) is "
    "fetched without compression and compared byte for byte with the file in STATIC_ROOT; "
    "again with Accept-Encoding: gzip (decoded, it must be the same bytes; whether it was "
    f"compressed is recorded); a {RANGE_LENGTH:,}-byte Range from its middle (206 with exactly "
    "those bytes and their Content-Range); a Range past its end (416); and once more with its "
    "validator (304 recorded). The server's log is read for Django's warning "
    f'"{BUFFERING_WARNING}". Cost: {COST_REQUESTS} sequential requests of the file and '
    f"{COST_REQUESTS} of a tiny JSON view (the interface's idiom) on one kept-alive connection "
    "each, median and 90th percentile ms. Outcome: yes = the file is right, with its type, "
    "Cache-Control and a validator (ETag or Last-Modified), both ranges are answered right and "
    "Django did not warn; partial = the file is right but a range, the caching headers or "
    "the type is wrong or missing, or Django warned (it read the whole file into memory "
    "first); no = wrong bytes, another status or a failed request. Under ASGI the same is "
    f"measured with {MIDDLEWARE_VARIABLE}=whitenoise (labelled, beside the verdict). A "
    "server's own static mount, where it has one, is tried as an option."
)


def expected_bytes(context: CheckContext) -> bytes | None:
    """The file as collected for this server (None: nothing was collected)."""
    static_root = context.launcher.static_root if context.launcher else None
    if static_root is None:
        return None
    relative = context.endpoints[FILE_ENDPOINT].removeprefix(STATIC_URL_PREFIX)
    try:
        return (Path(static_root) / relative).read_bytes()
    except FileNotFoundError:
        return None


def warned(log: str) -> bool:
    return BUFFERING_WARNING in log


def measure(instance: Instance, context: CheckContext, expected: bytes) -> dict[str, Any]:
    """Every probe of the file on ``instance``, the costs, and what the log said meanwhile."""
    offset = len(instance.log_text())
    dynamic = context.endpoints[DYNAMIC_ENDPOINTS[context.server.interface]]
    file_url = instance.url(context.endpoints[FILE_ENDPOINT])
    found = probe(file_url, expected)
    found["cost"] = costs(file_url, instance.url(dynamic), COST_REQUESTS)
    log = instance.log_text()[offset:]
    found["warned"] = warned(log)
    found["server_log"] = log[-LOG_EXCERPT_CHARS:]
    return found


def problems(found: dict[str, Any]) -> list[tuple[str, str]]:
    """(what is wrong, whose doing: "server" or "project") for a file served right."""
    whole = found["whole"]
    by_django = whole["served_by"] == "django"
    setting = "project" if by_django else "server"
    headers = whole["headers"]
    wrong = []
    if media_type(headers.get("content-type", "")) != EXPECTED_MEDIA_TYPE:
        wrong.append((f"Content-Type {headers.get('content-type') or 'missing'}", setting))
    if "cache-control" not in headers:
        wrong.append(("no Cache-Control", setting))
    if not ({"etag", "last-modified"} & set(headers)):
        wrong.append(("no ETag or Last-Modified", setting))
    # WhiteNoise and ServeStatic both answer ranges; a wrong answer behind Django is the
    # server's doing (it changed the request or the response on the way).
    for key, what in (("range", "a Range"), ("range_past_end", "a Range past the end")):
        answer = found[key]
        if not answer["correct"]:
            wrong.append((f"{what} got {_status(answer)}", "server"))
    if found["warned"]:
        wrong.append(("Django warned that it buffered the file (sync iterator under ASGI)",
                      "project"))  # fmt: skip
    return wrong


def _status(answer: dict[str, Any]) -> str:
    if answer.get("status") is None:
        return f"no answer ({answer.get('error')})"
    status = f"HTTP {answer['status']}"
    if answer["status"] == 206:
        return f"{status} with the wrong bytes or Content-Range {answer.get('content_range')}"
    return status


def _cost_words(found: dict[str, Any]) -> str:
    static, dynamic = found["cost"]["static"], found["cost"]["dynamic"]
    if static["median_ms"] is None or dynamic["median_ms"] is None:
        reason = static["reason"] or dynamic["reason"]
        return f"cost not measured ({reason})"
    return (
        f"{static['median_ms']:.2f} ms median per request, against {dynamic['median_ms']:.2f} "
        "ms for the tiny dynamic view"
    )


def judge(found: dict[str, Any]) -> tuple[str, str, str, str]:
    """(outcome, summary, cause, cause_detail) from one instance's probes."""
    whole = found["whole"]
    if not whole.get("correct"):
        got = (
            f"HTTP {whole['status']}, {whole['bytes']:,} bytes"
            if whole.get("status") is not None
            else f"no answer ({whole.get('error')})"
        )
        return "no", f"The file was not served right: {got}.", "server", ""
    by = "Django's static-files middleware" if whole["served_by"] == "django" else "the server"
    served = f"Served byte-correct by {by} ({whole['bytes']:,} bytes)"
    cost = _cost_words(found)
    wrong = problems(found)
    if not wrong:
        headers = whole["headers"]
        return (
            "yes",
            f"{served}, {headers.get('content-type')}, Cache-Control "
            f"{headers.get('cache-control')}; Range 206 and 416 right; no warning; {cost}.",
            "server",
            "",
        )
    causes = {cause for _, cause in wrong}
    cause = "server" if "server" in causes else "project"
    detail = f"{DECIDED_BY_SETTING}." if cause == "project" else ""
    listed = "; ".join(what for what, _ in wrong)
    return "partial", f"{served}, but: {listed}; {cost}.", cause, detail


def _variant(context: CheckContext, expected: bytes) -> dict[str, Any]:
    """The same under WhiteNoise instead of ServeStatic (an instance of its own)."""
    label = f"{MIDDLEWARE_VARIABLE}=whitenoise"
    assert context.launcher is not None
    try:
        with context.launcher.launch("http", env=dict(ASGI_VARIANT_ENV)) as instance:
            found = measure(instance, context, expected)
            found["instance"] = instance.describe()
    except StartError as error:
        return {"id": ASGI_VARIANT_ID, "label": label, "outcome": "error",
                "summary": f"Not measured: it did not start: {error.reason}"[:500]}  # fmt: skip
    outcome, summary, _, _ = judge(found)
    return {"id": ASGI_VARIANT_ID, "label": label, "outcome": outcome, "summary": summary,
            **found}  # fmt: skip


def _run(context: CheckContext) -> Finding:
    expected = expected_bytes(context)
    if expected is None:
        return Finding(
            "error",
            "Not measured: no collected static file (the launcher has no STATIC_ROOT with "
            f"{context.endpoints[FILE_ENDPOINT]}).",
        )
    found = measure(context.shared, context, expected)
    outcome, summary, cause, detail = judge(found)
    evidence: dict[str, Any] = {
        "instance": context.shared.describe(),
        "interface": context.server.interface,
        "path": context.endpoints[FILE_ENDPOINT],
        "file_bytes": len(expected),
        "cost_requests": COST_REQUESTS,
        **found,
        "variants": [],
    }
    # Only where Django serves the file: a server's own mount answers before the middleware.
    if context.server.interface == "asgi" and found["whole"].get("served_by") == "django":
        variant = _variant(context, expected)
        evidence["variants"].append(variant)
        said = variant["summary"]
        summary += f" With {variant['label']}: {variant['outcome']}; {said[:1].lower()}{said[1:]}"
    return Finding(outcome, summary, evidence, cause, detail)


CHECK = Check(
    timed=True,
    id="static-files",
    title="Static files in production",
    group=GROUP,
    question=(
        "Is a collected 1 MiB static file served byte-correct with its type, caching headers "
        "and byte ranges, without Django's buffering warning, and what does a request for it "
        "cost beside a tiny dynamic view?"
    ),
    thresholds=THRESHOLDS,
    run=_run,
)
