"""The openload command line: what one run asks for (``OpenloadRequest``) and its flags."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

NODE = "node"
SCRIPT = Path(__file__).with_name("openload.mjs")


@dataclass(frozen=True)
class OpenloadRequest:
    url: str  # http:// on loopback (openload speaks plain HTTP/1.1 only)
    rate: float  # requests per second due; 0: closed loop (the highest rate answered)
    connections: int  # the fixed pool requests wait for; never more in flight than this
    warmup_s: float  # at the rate, before the measured window
    duration_s: float  # the measured window: requests due inside it are the figure
    drain_s: float  # how long after the window the window's answers are waited for
    timeout_s: float  # a request unanswered this long after it was sent has failed
    body_bytes: int = 0  # > 0: each request is a POST of a body this size (an upload)

    def __post_init__(self) -> None:
        if urlsplit(self.url).scheme != "http":
            raise ValueError(f"openload needs an http:// URL, not {self.url!r}")
        if self.rate < 0 or self.connections < 1:
            raise ValueError("openload needs rate >= 0 and at least one connection")
        if self.duration_s <= 0 or self.warmup_s < 0 or self.drain_s < 0:
            raise ValueError("openload needs duration_s > 0, warmup_s >= 0 and drain_s >= 0")
        if self.body_bytes < 0:
            raise ValueError("openload needs body_bytes >= 0")

    @property
    def open_model(self) -> bool:
        return self.rate > 0

    @property
    def longest_s(self) -> float:
        """How long the run may take at most, connection set-up aside."""
        return self.warmup_s + self.duration_s + self.drain_s


def openload_command(
    request: OpenloadRequest, log_path: Path, records_path: Path | None = None
) -> list[str]:
    """The command line; with ``records_path``, openload also writes one line per request due
    in the window there (read by ``harness.benchmarks.openload.records``)."""
    records = [] if records_path is None else ["--records", str(records_path)]
    return [
        NODE,
        str(SCRIPT),
        "--url",
        request.url,
        "--rate",
        f"{request.rate:g}",
        "--connections",
        str(request.connections),
        "--warmup",
        f"{request.warmup_s:g}",
        "--duration",
        f"{request.duration_s:g}",
        "--drain",
        f"{request.drain_s:g}",
        "--timeout",
        f"{request.timeout_s:g}",
        "--log",
        str(log_path),
        *(["--body-bytes", str(request.body_bytes)] if request.body_bytes else []),
        *records,
    ]


def node_version() -> str | None:
    """``20.20.2`` from ``node --version``; None when Node.js is missing."""
    if shutil.which(NODE) is None:
        return None
    try:
        result = subprocess.run(
            [NODE, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip().removeprefix("v") or None
