"""The http2-push check: does Link: rel=preload make the server push the stylesheet (nghttp)?"""

from __future__ import annotations

import re
from typing import Any

from harness.checks import Check, CheckContext, Finding
from harness.checks.protocols._shared import GROUP, REQUEST_TIMEOUT_S
from harness.checks.protocols.clients import run_tool
from harness.checks.protocols.instances import did_not_start, first_declared, running
from harness.process import StartError

PRELOAD_ENDPOINT = "preload"
# The stylesheet that the preload view names in its Link header (endpoints.toml, static_files).
PUSHED_ASSET = "/static/demo/style.css"
PUSH_DEPRECATION = "HTTP/2 push is deprecated in browsers; Chrome removed it in version 106"
_STAT_HEADER = re.compile(r"^id\s+responseEnd\s+requestStart", re.MULTILINE)


def nghttp_streams(output: str) -> list[dict[str, Any]]:
    """The rows of ``nghttp -s`` statistics; a '*' before requestStart marks a pushed stream."""
    found = _STAT_HEADER.search(output)
    if found is None:
        return []
    streams = []
    for line in output[found.end() :].splitlines()[1:]:
        fields = line.split()
        if len(fields) < 7 or not fields[0].isdigit():
            break
        pushed = fields[2] == "*"
        rest = fields[3:] if pushed else fields[2:]
        if len(rest) < 5:
            break
        streams.append(
            {
                "stream_id": int(fields[0]),
                "response_end": fields[1],
                "request_start": rest[0],
                "status": int(rest[2]) if rest[2].isdigit() else None,
                "size": rest[3],
                "path": rest[4],
                "pushed": pushed,
            }
        )
    return streams


PORT_NAMES = {
    "http2_tls": "HTTP/2 TLS port",
    "h2c": "h2c port",
    "tls": "TLS port",
    "http": "plain port",
}


def served_over_http2(streams: list[dict[str, Any]], page: str) -> bool:
    """nghttp speaks only HTTP/2: a 200 row for the page means HTTP/2 worked."""
    return any(stream["path"] == page and stream["status"] == 200 for stream in streams)


def judge_push(streams: list[dict[str, Any]]) -> tuple[str, str]:
    """(outcome, what happened) from the streams of a page that came over HTTP/2."""
    pushed = [stream["path"] for stream in streams if stream["pushed"]]
    if any(path.split("?")[0] == PUSHED_ASSET for path in pushed):
        return "yes", f"Pushed {', '.join(pushed)} for the page's Link: rel=preload header"
    if pushed:
        return "no", (
            f"HTTP/2 works, but for the Link: rel=preload header it pushed only "
            f"{', '.join(pushed)}, not the stylesheet"
        )
    return "no", (
        "HTTP/2 works, but the Link: rel=preload header led to no push; "
        "nghttp fetched the stylesheet itself"
    )


def nghttp_problem(result: dict[str, Any]) -> str | None:
    """nghttp's first [ERROR] message, else its last line on stderr."""
    lines = [line.strip() for line in (result.get("stderr") or "").splitlines() if line.strip()]
    errors = [line.removeprefix("[ERROR]").strip() for line in lines if "[ERROR]" in line]
    if errors:
        return errors[0]
    return lines[-1] if lines else None


def check_http2_push(context: CheckContext) -> Finding:
    kind = first_declared(context, ("http2_tls", "h2c", "tls", "http"))
    assert kind is not None
    page = context.endpoints[PRELOAD_ENDPOINT]
    try:
        with running(context, kind) as instance:
            # nghttp has no option to trust a CA file: the certificate goes unverified, which
            # does not matter for seeing which streams the server pushes.
            argv = ["nghttp", "-ans", f"--timeout={REQUEST_TIMEOUT_S:g}", instance.url(page)]
            result = run_tool(argv)
            described = instance.describe()
    except StartError as error:
        return did_not_start(kind, error)
    streams = nghttp_streams(result.get("stdout") or "")
    evidence = {
        "instance": described,
        "client": "nghttp -ans (get assets, discard bodies, print statistics)",
        "certificate_verified": False,
        "nghttp": result,
        "streams": streams,
        "deprecation": PUSH_DEPRECATION,
    }
    if result["exit_code"] is None and not streams:
        return Finding("error", f"nghttp could not measure: {result['error']}.", evidence)
    if served_over_http2(streams, page):
        outcome, happened = judge_push(streams)
    else:
        problem = nghttp_problem(result)
        port = PORT_NAMES[kind]
        outcome = "no"
        said = f'; nghttp said "{problem}"' if problem else ""
        happened = f"No HTTP/2 at all on its {port}, so no push{said}"
    return Finding(outcome, f"{happened} ({PUSH_DEPRECATION}).", evidence)


CHECK = Check(
    id="http2-push",
    title="HTTP/2 server push from Link: rel=preload (deprecated in browsers)",
    group=GROUP,
    question=(
        "Does a Link: rel=preload response header make the server push the stylesheet "
        f"over HTTP/2? ({PUSH_DEPRECATION}.)"
    ),
    thresholds=(
        "yes when nghttp -ans shows the stylesheet as a pushed stream; no when HTTP/2 works "
        "but nothing (or something else) is pushed, or when there is no HTTP/2 at all. The "
        "server's HTTP/2 over TLS command is used, else h2c, else TLS, else the plain port."
    ),
    run=check_http2_push,
)
