"""The request-smuggling corpus behind nginx: the desync that matters in production is a proxy
that reuses its upstream connection, so that bytes one client left there become part of another
client's request. A single connection to the server cannot show that; this variant can.

nginx runs with one kept-alive upstream connection (``keepalive 1``, HTTP/1.1, an empty
Connection header: how nginx's docs say to keep upstream connections), so the next request it
forwards goes on the connection the last one used. Per input: the input goes to nginx on a
client connection of its own; then a second client, on a new connection, sends one clean
request, which nginx puts on the same upstream connection whenever the server kept it open.
What nginx did with the input (answered it itself, or forwarded it) and whether the second
client got anything but its own answer are recorded.

nginx is started and ended by the harness (``harness.process``), its files in a scratch folder.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from evidence.vocabulary import NGINX_HANDLING
from harness.benchmarks.nginx import (
    INSTALL_HINT,
    READY_PATH,
    STOP_GRACE_S,
    TEMP_PATH_KINDS,
    NginxUnavailable,
    check_config,
    find_nginx,
    indent,
    nginx_version,
    user_lines,
)
from harness.checks.hazards.raw_http import Address, Exchange, Response, escaped, exchange
from harness.checks.hazards.smuggling_corpus import CASES, ECHO_PATH, SMUGGLED_MARK, Case
from harness.network import HOST, free_port
from harness.process import ServerProcess, StartError

UPSTREAM_KEEPALIVE = 1  # one cached upstream connection: the second client's request reuses it
UPSTREAM_HEADER = "X-Smuggling-Upstream"  # set by nginx when it contacted the server
SECOND_QUERY = "second-client="
SECOND_PROBE = "second"  # the X-Probe value the second client sends
IDLE_S = 1.0  # as the direct check: a kept-alive connection with nothing more to say
LIMIT_S = 4.0
READY_TIMEOUT_S = 10.0
NGINX_TIMEOUT_S = 5  # nginx's own waits (client body, upstream): bounded below LIMIT_S + IDLE_S
LOG_PREFIXES = ("client ", "upstream ")  # error.log lines that say why nginx refused or failed

REJECTED, FORWARDED, NO_ANSWER = NGINX_HANDLING


@dataclass(frozen=True)
class Proxy:
    address: Address
    process: ServerProcess
    error_log: Path
    config_text: str
    version: str | None


def proxy_config(directory: Path, port: int, upstream: Address) -> str:
    """nginx.conf for one proxy to ``upstream`` with a single kept-alive upstream connection.
    Every file nginx writes lives in ``directory``."""
    d = directory.resolve()
    location = [
        "proxy_pass http://server_under_test;",
        "# HTTP/1.1 and an empty Connection header keep upstream connections open (nginx docs,",
        "# ngx_http_upstream_module, keepalive).",
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',
        "# The client's own Host, as sent, so Django's ALLOWED_HOSTS sees what it would see.",
        "proxy_set_header Host $http_host;",
        f"proxy_connect_timeout {NGINX_TIMEOUT_S}s;",
        f"proxy_send_timeout {NGINX_TIMEOUT_S}s;",
        f"proxy_read_timeout {NGINX_TIMEOUT_S}s;",
    ]
    server = [
        f"listen {HOST}:{port};",
        "# Present only on answers nginx got from the server ($upstream_addr is empty, so the",
        "# header is left out, on what nginx answered itself).",
        f"add_header {UPSTREAM_HEADER} $upstream_addr always;",
        f'location = {READY_PATH} {{ return 200 "ready\\n"; }}',
        "location / {",
        *indent(location),
        "}",
    ]
    http = [
        "default_type text/plain;",
        "access_log off;",
        *(f"{kind}_temp_path {d}/temp_{kind};" for kind in TEMP_PATH_KINDS),
        f"client_header_timeout {NGINX_TIMEOUT_S}s;",
        f"client_body_timeout {NGINX_TIMEOUT_S}s;",
        "# max_fails=0: a failed request must not mark the only server down for the next input.",
        "upstream server_under_test {",
        f"    server {upstream.host}:{upstream.port} max_fails=0;",
        f"    keepalive {UPSTREAM_KEEPALIVE};",
        "}",
        "server {",
        *indent(server),
        "}",
    ]
    lines = [
        f"# Written by harness/checks/hazards/smuggling_nginx.py; nginx writes only inside {d}.",
        *user_lines(),
        "worker_processes 1;",
        f"pid {d}/nginx.pid;",
        "# info: nginx logs why it refused a request (client sent ...), read per input.",
        f"error_log {d}/error.log info;",
        "events { worker_connections 64; }",
        "http {",
        *indent(http),
        "}",
    ]
    return "\n".join(lines) + "\n"


@contextmanager
def running_proxy(directory: Path, upstream: Address) -> Iterator[Proxy]:
    """nginx in front of ``upstream`` until the block ends, however it ends. NginxUnavailable
    when nginx is missing or refuses the config; StartError when it does not answer."""
    binary = find_nginx()
    if binary is None:
        raise NginxUnavailable(f"nginx was not found on PATH or in /usr/sbin: {INSTALL_HINT}")
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config_text = proxy_config(directory, port, upstream)
    config = directory / "nginx.conf"
    config.write_text(config_text, encoding="utf-8")
    check_config(binary, directory, config)
    process = ServerProcess(
        [binary, "-p", f"{directory}/", "-c", str(config), "-g", "daemon off;"],
        cwd=directory,
        env={"PATH": os.environ.get("PATH", os.defpath)},
        log_path=directory / "nginx.log",
        stop_signal="SIGTERM",
        kind="nginx",
        port=port,
    )
    try:
        process.start()
        process.wait_ready(f"http://{HOST}:{port}{READY_PATH}", READY_TIMEOUT_S)
        yield Proxy(
            Address(HOST, port), process, directory / "error.log", config_text, nginx_version()
        )
    finally:
        process.stop(grace_s=STOP_GRACE_S)


# --- one input -------------------------------------------------------------------------------


def second_request(host: str, case_id: str) -> bytes:
    return (
        f"GET {ECHO_PATH}?{SECOND_QUERY}{case_id} HTTP/1.1\r\nHost: {host}\r\n"
        f"X-Probe: {SECOND_PROBE}\r\nConnection: close\r\n\r\n"
    ).encode()


def _said(echo: dict[str, Any]) -> str:
    query = f"?{echo['query_string']}" if echo.get("query_string") else ""
    said = f"{echo.get('method')} {echo.get('path')}{query}"
    return said + (f", body {echo['body_bytes']} B" if echo.get("body_bytes") else "")


def second_client_affected(result: Exchange, case_id: str) -> tuple[bool, str]:
    """(affected, detail): did the second client get anything but the answer to its own,
    clean request: one 200 from the echo view with exactly what it sent?"""
    if not result.responses:
        return True, f"no answer (connection {result.ended or 'refused'})"
    if len(result.responses) > 1:
        statuses = ", ".join(str(response.status) for response in result.responses)
        return True, f"{len(result.responses)} answers to one request: HTTP {statuses}"
    response = result.responses[0]
    echo = response.echo
    if response.status != 200 or echo is None:
        return True, f"HTTP {response.status}, not the echo view's answer"
    if SMUGGLED_MARK in echo.get("query_string", ""):
        return True, f"the smuggled request's answer: Django ran {_said(echo)}"
    own = (
        echo.get("method") == "GET"
        and echo.get("path") == ECHO_PATH
        and echo.get("query_string") == f"{SECOND_QUERY}{case_id}"
        and not echo.get("body_bytes")
        and echo.get("headers", {}).get("HTTP_X_PROBE") == SECOND_PROBE
    )
    if not own:
        return True, f"another request reached Django: {_said(echo)}"
    return False, f"HTTP 200, its own request: {_said(echo)}"


def nginx_handling(result: Exchange) -> tuple[str, str]:
    """(what nginx did with the input, detail)."""
    forwarded = [r for r in result.responses if r.header(UPSTREAM_HEADER)]
    if forwarded:
        return FORWARDED, "; ".join(_answer_text(response) for response in forwarded)
    if result.responses:
        statuses = ", ".join(str(response.status) for response in result.responses)
        return REJECTED, f"nginx answered HTTP {statuses} itself"
    if result.ended in ("closed", "reset") or result.error:
        return REJECTED, f"nginx {result.ended or 'refused'} the connection without an answer"
    return NO_ANSWER, f"no answer within {result.elapsed_s:.1f} s"


def _answer_text(response: Response) -> str:
    echo = response.echo
    if echo is None:
        return f"the server answered HTTP {response.status}"
    return f"the server answered HTTP {response.status}; Django got {_said(echo)}"


def kept_upstream_connections(proxy: Proxy, upstream: Address) -> int | None:
    """How many open connections nginx holds to the server now (None when the kernel does not
    say): one means the next request nginx forwards goes on a connection already used."""
    try:
        count = 0
        for pid in proxy.process.tree_pids():
            for connection in psutil.Process(pid).net_connections(kind="tcp"):
                if (
                    connection.status == psutil.CONN_ESTABLISHED
                    and connection.raddr
                    and connection.raddr.port == upstream.port
                ):
                    count += 1
        return count
    except psutil.Error:
        return None


def new_log_lines(path: Path, offset: int) -> tuple[list[str], int]:
    """nginx's explanations logged since ``offset`` (without time stamp and connection
    number), and the new offset."""
    try:
        with path.open("rb") as log:
            log.seek(offset)
            data = log.read()
    except OSError:
        return [], offset
    lines = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        said = line.split(": ", 1)[-1]  # after "2026/12/07 06:21:11 [info] 19791#19791: "
        said = said.split(" ", 1)[-1] if said.startswith("*") else said  # "*28 client sent"
        if said.startswith(LOG_PREFIXES):
            lines.append(said.split(", client: ", 1)[0][:300])
    return lines, offset + len(data)


def run_through(proxy: Proxy, upstream: Address, case: Case, log_offset: int) -> tuple[dict, int]:
    """The input through nginx, then the second client; the record and the log's new offset."""
    host = proxy.address.host_header
    first = exchange(proxy.address, case.request(host), idle_s=IDLE_S, limit_s=LIMIT_S)
    handling, detail = nginx_handling(first)
    # Only a forwarded input used the upstream connection; the kernel takes ~0.1 s to say.
    kept = kept_upstream_connections(proxy, upstream) if handling == FORWARDED else None
    second = exchange(proxy.address, second_request(host, case.id), idle_s=IDLE_S, limit_s=LIMIT_S)
    affected, second_detail = second_client_affected(second, case.id)
    said, log_offset = new_log_lines(proxy.error_log, log_offset)
    record = {
        "id": case.id,
        "nginx": handling,
        "detail": detail[:300],
        "nginx_log": said[:5],
        "statuses": [response.status for response in first.responses],
        "received_head": escaped(first.received[:300]),
        # Forwarded inputs: whether nginx kept the upstream connection the input used, so that
        # the second client's request went on it (null: not forwarded, or not known).
        "upstream_kept": None if kept is None else kept > 0,
        "second_status": second.responses[0].status if second.responses else None,
        "affected": affected,
        "second_detail": second_detail[:300],
    }
    return record, log_offset


def measure(scratch: Path, upstream: Address) -> dict[str, Any]:
    """``evidence.behind_nginx``: every input through nginx, each followed by a second client;
    ``measured`` false, with the reason, when nginx could not be run or a clean request
    through it did not get its answer."""
    began = time.monotonic()
    try:
        with running_proxy(scratch, upstream) as proxy:
            host = proxy.address.host_header
            baseline = exchange(proxy.address, second_request(host, "baseline"), idle_s=IDLE_S)
            broken, baseline_detail = second_client_affected(baseline, "baseline")
            facts = {
                "nginx_version": proxy.version,
                "upstream_keepalive": UPSTREAM_KEEPALIVE,
                "config": proxy.config_text,
                "baseline": baseline_detail,
            }
            if broken:
                return {
                    "measured": False,
                    "reason": f"a clean request through nginx did not get its answer: "
                    f"{baseline_detail}",
                    **facts,
                }
            offset = proxy.error_log.stat().st_size if proxy.error_log.exists() else 0
            cases = []
            for case in CASES:
                record, offset = run_through(proxy, upstream, case, offset)
                cases.append(record)
    except (NginxUnavailable, StartError, OSError) as error:
        return {"measured": False, "reason": f"{type(error).__name__}: {error}"[:500]}
    return {
        "measured": True,
        **facts,
        "cases": cases,
        "elapsed_s": round(time.monotonic() - began, 3),
    }
