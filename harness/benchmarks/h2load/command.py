"""The h2load command line: what one run asks for (``H2loadRequest``) and the flags for it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

H2LOAD = "h2load"
PROTOCOLS = ("http/1.1", "h2", "h2c")
# h2 offers only h2 by ALPN: a server without it then fails fast with no protocol, where
# offering http/1.1 as well would measure HTTP/1.1 (and can hang h2load, see run.TIMEOUT_HINT).
PROTOCOL_FLAGS = {"http/1.1": ["--h1"], "h2": ["--npn-list=h2"], "h2c": ["-p", "h2c"]}
SCHEMES = {"http/1.1": ("http", "https"), "h2": ("https",), "h2c": ("http",)}


@dataclass(frozen=True)
class H2loadRequest:
    url: str  # http:// or https:// on 127.0.0.1
    clients: int
    protocol: str  # "http/1.1" | "h2" (TLS, by ALPN) | "h2c" (cleartext, prior knowledge)
    duration_s: float  # main duration (-D)
    warmup_s: float  # --warm-up-time
    rps_per_client: float | None = None  # fixed-rate mode (--rps, per client; closed loop)
    threads: int = 1  # -t (must be <= clients)
    # Count mode (-n): a fixed number of requests instead of a duration. h2load 1.52 hangs at
    # the end of a -D run against a server that closes the connection after every response
    # (gunicorn's sync worker), so those servers are measured by count; no warm-up inside.
    requests: int | None = None

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol {self.protocol!r} is not one of {PROTOCOLS}")
        scheme = urlsplit(self.url).scheme
        if scheme not in SCHEMES[self.protocol]:
            raise ValueError(f"{self.protocol} needs a {' or '.join(SCHEMES[self.protocol])} URL")
        if not 1 <= self.threads <= self.clients:
            raise ValueError("h2load needs 1 <= threads <= clients")
        # h2load takes whole numbers with a unit: durations are passed in ms.
        if self.duration_s < 0.001 or self.warmup_s < 0:
            raise ValueError("duration_s must be >= 1 ms and warmup_s >= 0")
        if self.rps_per_client is not None and not self.rps_per_client > 0:
            raise ValueError("rps_per_client must be > 0")
        if self.requests is not None and self.requests < self.clients:
            raise ValueError("count mode needs at least one request per client")

    @property
    def target_requests_per_s(self) -> float | None:
        if self.rps_per_client is None:
            return None
        return self.clients * self.rps_per_client


def duration_text(seconds: float) -> str:
    """h2load accepts whole numbers with a unit (``-D 0.5`` is a "value error")."""
    return f"{round(seconds * 1000)}ms"


def h2load_command(request: H2loadRequest, log_path: Path) -> list[str]:
    command = [
        H2LOAD,
        *PROTOCOL_FLAGS[request.protocol],
        "-c",
        str(request.clients),
        "-t",
        str(request.threads),
        *(
            [
                "-D",
                duration_text(request.duration_s),
                "--warm-up-time",
                duration_text(request.warmup_s),
            ]
            if request.requests is None
            # A hung connection would stall a count run forever: give up after 10 s silent.
            else ["-n", str(request.requests), "-N", "10s"]
        ),
        "--log-file",
        str(log_path),
    ]
    if request.rps_per_client is not None:
        command += ["--rps", f"{request.rps_per_client:g}"]
    return [*command, request.url]
