"""The version of the installed h2load, recorded with every capture."""

from __future__ import annotations

import re
import shutil
import subprocess

from harness.benchmarks.h2load.command import H2LOAD

VERSION_TIMEOUT_S = 10.0
VERSION_LINE = re.compile(r"^h2load nghttp2/(\S+)$")


def h2load_version() -> str | None:
    """``1.52.0`` from ``h2load nghttp2/1.52.0``; None when h2load is missing or unclear."""
    if shutil.which(H2LOAD) is None:
        return None
    try:
        result = subprocess.run(
            [H2LOAD, "--version"],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    for line in result.stdout.splitlines():
        if match := VERSION_LINE.match(line.strip()):
            return match[1]
    return None
