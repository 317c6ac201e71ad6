"""nginx 1.22 in front of a server (TLS, HTTP/2), or alone as a trivial ``return 200`` target.

As a proxy it is the deployment many Django sites use: TLS and HTTP/2 end at nginx, and the
server behind it speaks HTTP/1.1 over reused connections. Alone, it answers faster than any
Python server, so a load tool run against it shows the tool's own ceiling (calibration).
Settings and their reasons: RESEARCH.md section 4.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from harness.network import HOST, TLSMaterial, free_port
from harness.process import ServerProcess

READY_PATH = "/__nginx__/ready"  # answered by nginx itself, whatever the upstream does
READY_TIMEOUT_S = 15.0
STOP_GRACE_S = 5.0
CONFIG_NAME = "nginx.conf"
INSTALL_HINT = (
    "install it with `apt-get install nginx` (requirements/system-packages.txt; 1.22 tested)"
)
# Debian puts nginx in /usr/sbin, which is not on every user's PATH.
EXTRA_SEARCH_PATH = ("/usr/sbin", "/usr/local/sbin")
TEMP_PATH_KINDS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


class NginxUnavailable(Exception):
    """nginx is missing or rejected the configuration; the message says what to do or shows
    nginx's own output."""


@dataclass(frozen=True)
class NginxInstance:
    base_url: str
    port: int
    config_text: str
    process: ServerProcess
    version: str | None


def find_nginx() -> str | None:
    search = os.pathsep.join([os.environ.get("PATH", os.defpath), *EXTRA_SEARCH_PATH])
    return shutil.which("nginx", path=search)


def nginx_version() -> str | None:
    """``1.22.1`` for the nginx on this machine, or None when there is none."""
    binary = find_nginx()
    if binary is None:
        return None
    # nginx prints its version on stderr.
    result = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    found = re.search(r"nginx/(\S+)", result.stderr + result.stdout)
    return found.group(1) if found else None


def listen_line(port: int, tls: bool, http2: bool) -> str:
    # nginx 1.22 has no `http2 on;` (1.25.1+): HTTP/2 is a flag of `listen`. Without TLS it is
    # h2c with prior knowledge only; HTTP/1.1 clients cannot use that port.
    flags = [flag for flag, wanted in (("ssl", tls), ("http2", http2)) if wanted]
    return f"listen {HOST}:{port}{''.join(' ' + flag for flag in flags)};"


def tls_lines(tls: TLSMaterial | None) -> list[str]:
    if tls is None:
        return []
    return [
        f"ssl_certificate {tls.certfile};",
        f"ssl_certificate_key {tls.keyfile};",
        "# 1.22's default list stops at TLSv1.2; servers that terminate TLS themselves offer 1.3.",
        "ssl_protocols TLSv1.2 TLSv1.3;",
    ]


def location_lines(upstream_port: int | None) -> list[str]:
    if upstream_port is None:
        return ["location / {", '    return 200 "ok\\n";', "}"]
    return [
        "location / {",
        "    proxy_pass http://app;",
        "    # HTTP/1.1 and an empty Connection header are both needed to reuse upstream",
        "    # connections; the map gives '' except to WebSocket upgrades, which need `upgrade`.",
        "    proxy_http_version 1.1;",
        "    proxy_set_header Connection $connection_upgrade;",
        "    proxy_set_header Upgrade $http_upgrade;",
        "    proxy_set_header Host $host;",
        "    proxy_set_header X-Forwarded-Proto $scheme;",
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "    # Idle SSE streams send one event a minute; nginx's default of 60 s would cut them.",
        "    proxy_read_timeout 300s;",
        "}",
    ]


def upstream_lines(upstream_port: int | None) -> list[str]:
    if upstream_port is None:
        return []
    return [
        f"upstream app {{ server {HOST}:{upstream_port}; keepalive 64; }}",
        "map $http_upgrade $connection_upgrade { default upgrade; '' ''; }",
    ]


def nginx_config(
    directory: Path, port: int, *, upstream_port: int | None, tls: TLSMaterial | None, http2: bool
) -> str:
    """The whole nginx.conf: a proxy to ``upstream_port``, or ``return 200`` when it is None.

    Every file nginx writes lives in ``directory``: Debian's build points pid and temp paths at
    /run and /var/lib/nginx, which a scratch run must not touch.
    """
    d = directory.resolve()
    server = [
        listen_line(port, tls is not None, http2),
        *tls_lines(tls),
        f'location = {READY_PATH} {{ return 200 "ready\\n"; }}',
        *location_lines(upstream_port),
    ]
    http = [
        "default_type text/plain;",
        "# Off in every configuration (proxy and return 200), so no run pays for logging.",
        "access_log off;",
        *(f"{kind}_temp_path {d}/temp_{kind};" for kind in TEMP_PATH_KINDS),
        "# The default (1000) ends HTTP/2 connections, and h2load never reconnects them.",
        "keepalive_requests 1000000;",
        *upstream_lines(upstream_port),
        "server {",
        *indent(server),
        "}",
    ]
    lines = [
        f"# Written by harness/benchmarks/nginx.py for one run; nginx writes only inside {d}.",
        *user_lines(),
        "# One worker: nginx gets one pinned core, like the servers it is compared with.",
        "worker_processes 1;",
        f"pid {d}/nginx.pid;",
        f"error_log {d}/error.log warn;",
        "# Room for the idle-connection runs (a proxied stream takes two connections), under",
        "# the 20000 open files a process may have here.",
        "events { worker_connections 16384; }",
        "http {",
        *indent(http),
        "}",
    ]
    return "\n".join(lines) + "\n"


def user_lines() -> list[str]:
    # Started as root, nginx runs its worker as `nobody`, which cannot enter a private scratch
    # directory (pytest's, for one) to write temp files. Elsewhere the directive is ignored
    # with a warning, so it is left out.
    if os.geteuid() != 0:
        return []
    return ["# Root starts nginx here: keep the worker able to use this directory.", "user root;"]


def indent(lines: Sequence[str]) -> list[str]:
    return ["    " + line if line else "" for line in lines]


def scratch_conf(
    directory: Path, *, written_by: str, http: Sequence[str], error_log_note: str
) -> str:
    """A whole nginx.conf for a check's short run: one worker, every file nginx writes in
    ``directory``, logging at ``info`` (why nginx refused or ended something: ``error_log_note``
    says what the check reads there), no access log, and ``http`` inside http {}."""
    d = directory.resolve()
    lines = [
        f"# Written by {written_by} for one run; nginx writes only inside {d}.",
        *user_lines(),
        "worker_processes 1;",
        f"pid {d}/nginx.pid;",
        f"# info: {error_log_note}",
        f"error_log {d}/error.log info;",
        "events { worker_connections 64; }",
        "http {",
        *indent(
            [
                "default_type text/plain;",
                "access_log off;",
                *(f"{kind}_temp_path {d}/temp_{kind};" for kind in TEMP_PATH_KINDS),
                *http,
            ]
        ),
        "}",
    ]
    return "\n".join(lines) + "\n"


def check_config(binary: str, directory: Path, config: Path) -> None:
    result = subprocess.run(
        [binary, "-t", "-p", f"{directory}/", "-c", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        output = (result.stderr + result.stdout).strip()
        raise NginxUnavailable(f"nginx rejected {config}:\n{output}")


def ready_client(tls: TLSMaterial | None, http2: bool) -> httpx.Client:
    """A client that can talk to this nginx: h2c-only ports need HTTP/2 prior knowledge."""
    verify = tls.client_context() if tls is not None else True
    only_h2c = tls is None and http2
    return httpx.Client(verify=verify, http1=not only_h2c, http2=http2, timeout=2.0)


@dataclass(frozen=True)
class StartedNginx:
    """An nginx answering on ``port`` with ``config_text``, until its block ends."""

    port: int
    config_text: str
    process: ServerProcess
    directory: Path

    @property
    def error_log(self) -> Path:
        return self.directory / "error.log"


@contextmanager
def started_nginx(
    directory: Path,
    render: Callable[[Path, int], str],
    *,
    prefix: Sequence[str] = (),
    ready_client: Callable[[], httpx.Client] = lambda: httpx.Client(timeout=2.0),
    scheme: str = "http",
) -> Iterator[StartedNginx]:
    """The one way the harness starts nginx: ``render(directory, port)`` gives the whole
    nginx.conf (every file nginx writes must live in ``directory``), checked with ``nginx -t``;
    nginx starts under ``prefix`` (e.g. taskset), is awaited at READY_PATH with a client from
    ``ready_client``, and is stopped (master and worker) when the block ends, however it ends.

    NginxUnavailable when nginx is missing or rejects the config; harness StartError when it
    starts but does not answer.
    """
    binary = find_nginx()
    if binary is None:
        raise NginxUnavailable(f"nginx was not found on PATH or in /usr/sbin: {INSTALL_HINT}")
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config_text = render(directory, port)
    config = directory / CONFIG_NAME
    config.write_text(config_text, encoding="utf-8")
    check_config(binary, directory, config)
    process = ServerProcess(
        [*prefix, binary, "-p", f"{directory}/", "-c", str(config), "-g", "daemon off;"],
        cwd=directory,
        env={"PATH": os.environ.get("PATH", os.defpath)},
        log_path=directory / "nginx.log",
        stop_signal="SIGTERM",  # fast shutdown; SIGQUIT would wait for held streams to end
        kind="nginx",
        port=port,
    )
    try:
        process.start()
        with ready_client() as client:
            process.wait_ready(f"{scheme}://{HOST}:{port}{READY_PATH}", READY_TIMEOUT_S, client)
        yield StartedNginx(port, config_text, process, directory)
    finally:
        process.stop(grace_s=STOP_GRACE_S)


@contextmanager
def running_nginx(
    directory: Path,
    *,
    upstream_port: int | None,
    tls: TLSMaterial | None,
    http2: bool,
    prefix: Sequence[str] = (),
) -> Iterator[NginxInstance]:
    """nginx as a TLS/HTTP/2 proxy to ``upstream_port``, or alone as ``return 200`` when it
    is None, started by ``started_nginx`` (its errors are this one's)."""
    scheme = "https" if tls else "http"
    with started_nginx(
        directory,
        lambda d, port: nginx_config(d, port, upstream_port=upstream_port, tls=tls, http2=http2),
        prefix=prefix,
        ready_client=lambda: ready_client(tls, http2),
        scheme=scheme,
    ) as started:
        yield NginxInstance(
            f"{scheme}://{HOST}:{started.port}",
            started.port,
            started.config_text,
            started.process,
            nginx_version(),
        )
