"""Django's log and Python warnings reach stderr whatever DEBUG is, for the harness to read."""

import os
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]

# Serves a sync iterator asynchronously, as Django does under an ASGI server, which makes
# Django warn; then logs on Django's request logger at INFO, which Django's default drops.
SCRIPT = """
import asyncio, logging
import django
django.setup()
from django.http import StreamingHttpResponse

async def consume(response):
    return [part async for part in response]

asyncio.run(consume(StreamingHttpResponse(iter([b"a", b"b"]))))
logging.getLogger("django.request").info("info-level probe")
"""


def test_streaming_warning_and_django_info_reach_stderr():
    env = {name: value for name, value in os.environ.items() if name != "DJANGO_DEV_MODE"}
    env["DJANGO_SETTINGS_MODULE"] = "sampleproject.settings"
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING py.warnings" in result.stderr
    assert "must consume synchronous iterators" in result.stderr
    assert "INFO django.request" in result.stderr
    assert "info-level probe" in result.stderr
