"""The clients the TLS and HTTP/2 checks measure with: one httpx GET, and curl or nghttp runs."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from typing import Any

import httpx

from harness.checks.protocols._shared import OUTPUT_LIMIT, REQUEST_TIMEOUT_S

TOOL_TIMEOUT_S = 20.0  # curl and nghttp, each run

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


def describe_curl(result: dict[str, Any]) -> str:
    if result["error"]:
        return f"curl: {result['error']}"
    if result["http_version"] is None:
        code = result["exit_code"]
        meaning = CURL_EXIT_MEANINGS.get(code)
        return f"curl failed (exit {code}{': ' + meaning if meaning else ''})"
    return f"curl got HTTP/{result['http_version']} {result['status']}"


def describe_probe(probe: dict[str, Any]) -> str:
    if probe["error"]:
        return probe["error"]
    return f"{probe['http_version']} {probe['status']}"
