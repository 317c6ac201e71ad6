"""TLS and HTTP/2: does the server terminate TLS itself, and which ways to HTTP/2 does it offer?

Each check starts the variant of the server it asks about (the definition's ``tls``,
``http2_tls`` or ``h2c`` command, written from the server's docs). Where a server declares no
such variant, a user would still try the nearest one (HTTP/2 on its TLS port, h2c on its plain
port), so the check tries that and records what happened. httpx (with h2) is the client; curl
and nghttp confirm what they show best: the negotiated version, the ``Upgrade: h2c`` exchange and
pushed streams.
"""

from __future__ import annotations

import re
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from harness.checks import Check, CheckContext, Finding
from harness.launcher import Instance
from harness.process import StartError

GROUP = "TLS and HTTP/2"
PROBE_ENDPOINT = "json_sync"
PRELOAD_ENDPOINT = "preload"
# The stylesheet that the preload view names in its Link header (endpoints.toml, static_files).
PUSHED_ASSET = "/static/demo/style.css"
REQUEST_TIMEOUT_S = 10.0
TOOL_TIMEOUT_S = 20.0  # curl and nghttp, each run
OUTPUT_LIMIT = 3000  # characters of tool output and server log kept in the evidence
PUSH_DEPRECATION = "HTTP/2 push is deprecated in browsers; Chrome removed it in version 106"

# curl's exit codes (man curl, EXIT CODES) that these checks meet, for readable summaries.
CURL_EXIT_MEANINGS = {
    7: "could not connect",
    16: "HTTP/2 framing error",
    28: "timed out",
    35: "TLS handshake failed",
    52: "empty reply from the server",
    55: "failed sending data, the server closed the connection",
    56: "connection reset while receiving",
    60: "certificate not trusted",
    92: "HTTP/2 stream error",
}
_STAT_HEADER = re.compile(r"^id\s+responseEnd\s+requestStart", re.MULTILINE)


# -- Starting the variant a check needs ------------------------------------------------------


def first_declared(context: CheckContext, kinds: tuple[str, ...]) -> str | None:
    """The first of ``kinds`` the definition declares (``http`` is always the shared one)."""
    for kind in kinds:
        if kind == "http" or (context.launcher is not None and context.launcher.supports(kind)):
            return kind
    return None


@contextmanager
def running(context: CheckContext, kind: str) -> Iterator[Instance]:
    """The shared instance for ``http``; otherwise a fresh one, stopped on leaving."""
    if kind == "http":
        yield context.shared
        return
    if context.launcher is None:
        raise RuntimeError("this check starts its own server, but no launcher was given")
    with context.launcher.launch(kind) as instance:
        yield instance


def did_not_start(kind: str, error: StartError) -> Finding:
    """A declared variant that never became ready: the check could not measure."""
    return Finding(
        "error",
        f"The server's {kind} command did not become ready: {error.reason}"[:500],
        {"kind": kind, "start_error": error.reason, "log_tail": error.log_tail[-OUTPUT_LIMIT:]},
    )


def log_since(instance: Instance, mark: int) -> str:
    """What the server logged after ``mark`` (a length of its log), truncated."""
    return instance.log_text()[mark:][-OUTPUT_LIMIT:]


def tls_context(instance: Instance) -> ssl.SSLContext:
    """A fresh context trusting the run's CA (httpcore sets ALPN on it, so never reuse one)."""
    return instance.tls.client_context()


def declared_notes(context: CheckContext, *words: str) -> list[str]:
    """The definition's notes that mention any of ``words``: the researched facts behind it."""
    return [note for note in context.server.notes if any(word in note for word in words)]


# -- Clients ----------------------------------------------------------------------------------


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:300]


def _tls_details(ssl_object: ssl.SSLObject | None) -> dict[str, Any]:
    if ssl_object is None:
        return {}
    cipher = ssl_object.cipher()
    return {
        "tls_version": ssl_object.version(),
        "cipher": cipher[0] if cipher else None,
        "alpn": ssl_object.selected_alpn_protocol(),
    }


def httpx_probe(url: str, client: httpx.Client) -> dict[str, Any]:
    """One GET: status, HTTP version and, over TLS, the negotiated TLS version, cipher, ALPN."""
    tls: dict[str, Any] = {"tls_version": None, "cipher": None, "alpn": None}

    def trace(event: str, info: dict[str, Any]) -> None:
        # Read the TLS session as the handshake completes: a server that closes the
        # connection after answering leaves nothing to ask once the response is in.
        if event == "connection.start_tls.complete" and info.get("return_value") is not None:
            tls.update(_tls_details(info["return_value"].get_extra_info("ssl_object")))

    try:
        response = client.get(url, extensions={"trace": trace})
    except httpx.HTTPError as error:
        return {
            "url": url,
            "error": _error_text(error),
            "status": None,
            "http_version": None,
            **tls,
        }
    return {
        "url": url,
        "error": None,
        "status": response.status_code,
        "http_version": response.http_version,
        "server_header": response.headers.get("server"),
        **tls,
    }


def run_tool(argv: list[str]) -> dict[str, Any]:
    """Run curl or nghttp, bounded; its exit code and (truncated) output."""
    if shutil.which(argv[0]) is None:
        return {"argv": argv, "error": f"{argv[0]} is not installed", "exit_code": None}
    try:
        completed = subprocess.run(
            argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return {"argv": argv, "error": f"no answer within {TOOL_TIMEOUT_S:g} s", "exit_code": None}
    return {
        "argv": argv,
        "error": None,
        "exit_code": completed.returncode,
        "stdout": completed.stdout[-OUTPUT_LIMIT:],
        "stderr": completed.stderr[-OUTPUT_LIMIT:],
    }


def curl(url: str, *options: str) -> dict[str, Any]:
    """curl's view of one GET: the HTTP version and status it ended with (``-w``)."""
    argv = [
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "--max-time",
        f"{REQUEST_TIMEOUT_S:g}",
        "-w",
        "%{http_version} %{http_code}",
        *options,
        url,
    ]
    result = run_tool(argv)
    version, _, code = (result.get("stdout") or "").strip().partition(" ")
    result["http_version"] = version if version and version != "0" else None
    result["status"] = int(code) if code.isdigit() and code != "000" else None
    return result


def _describe_curl(result: dict[str, Any]) -> str:
    if result["error"]:
        return f"curl: {result['error']}"
    if result["http_version"] is None:
        code = result["exit_code"]
        meaning = CURL_EXIT_MEANINGS.get(code)
        return f"curl failed (exit {code}{': ' + meaning if meaning else ''})"
    return f"curl got HTTP/{result['http_version']} {result['status']}"


def _describe_probe(probe: dict[str, Any]) -> str:
    if probe["error"]:
        return probe["error"]
    return f"{probe['http_version']} {probe['status']}"


# -- tls ----------------------------------------------------------------------------------------


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
            f"TLS request failed with its documented options: {_describe_probe(probe)}.",
            evidence,
        )
    return Finding(
        "yes",
        f"Terminates TLS itself with its documented options: {probe['tls_version']} "
        f"({probe['cipher']}), {_describe_probe(probe)} (ALPN: {probe['alpn'] or 'none chosen'}).",
        evidence,
    )


# -- http2-tls ----------------------------------------------------------------------------------


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
            f"{_describe_probe(probe)}; {_describe_curl(by_curl)}.",
            evidence,
        )
    negotiated = ""
    if not probe["error"]:
        negotiated = (
            f"ALPN chose {probe['alpn']}, " if probe["alpn"] else "no ALPN protocol chosen, "
        )
    return Finding(
        "no",
        f"No HTTP/2 over TLS with {which}: {negotiated}{_describe_probe(probe)}; "
        f"{_describe_curl(by_curl)}.",
        evidence,
    )


# -- http2-cleartext ------------------------------------------------------------------------------


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
        return did_not_start(kind, error)
    where = "its h2c option" if kind == "h2c" else "its plain port (no h2c option declared)"
    if probe["http_version"] == "HTTP/2" and probe["status"] == 200:
        return Finding(
            "yes",
            f"HTTP/2 with prior knowledge answered on {where}: {_describe_probe(probe)}; "
            f"{_describe_curl(by_curl)}.",
            evidence,
        )
    return Finding(
        "no",
        f"No HTTP/2 with prior knowledge on {where}: {_describe_probe(probe)}; "
        f"{_describe_curl(by_curl)}.",
        evidence,
    )


# -- http2-upgrade ---------------------------------------------------------------------------------


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
        detail = _describe_curl(by_curl)
    return Finding("no", f"Upgrade: h2c not honoured on {where}: {detail}.", evidence)


# -- http2-push ---------------------------------------------------------------------------------


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


CHECKS = [
    Check(
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
    ),
    Check(
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
    ),
    Check(
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
    ),
    Check(
        id="http2-upgrade",
        title="HTTP/2 through Upgrade: h2c",
        group=GROUP,
        question="Does the server switch a cleartext HTTP/1.1 request to HTTP/2 on Upgrade: h2c?",
        thresholds=(
            "yes when curl --http2 on an http:// URL (which sends Upgrade: h2c) ends with a 200 "
            "over HTTP/2; no otherwise. Whether a 101 Switching Protocols was seen is recorded."
        ),
        run=check_http2_upgrade,
    ),
    Check(
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
    ),
]
