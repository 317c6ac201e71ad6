"""End to end: ``capture --versions`` makes an older release's own environment, starts the real
server from it, runs a check and writes the version file, which validates and stays out of
the matrix's folders. One combination and one quick check, to stay short."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evidence.documents import read_document
from evidence.layout import REPO_ROOT
from harness.validate import validate
from harness.versions import HARNESS_PYTHON

pytestmark = pytest.mark.servers

OLDER = "26.2.0"  # gunicorn's release before the current pin (harness/versions.toml)
NAME = f"gunicorn-sync@{OLDER}+django-6.1.3+python-{HARNESS_PYTHON}"


def test_a_version_capture_checks_an_older_release_in_its_own_environment_and_file(
    tmp_path: Path, environments_dir: Path
) -> None:
    data = tmp_path / "data"
    capture = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "capture",
            "--versions",
            "--server",
            "gunicorn-sync",
            "--release",
            OLDER,
            "--check",
            "head-request",
            "--quick",
            "--data-dir",
            str(data),
            "--environments-dir",
            str(environments_dir),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "SERVING_DJANGO_MACHINE": "test-machine"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert capture.returncode == 0, capture.stderr
    (path,) = data.glob(f"versions/test-machine/*/{NAME}.json")
    document = read_document(path, "run")
    assert document["startup"]["ok"], document["startup"]
    # The environment holds the older release, not the definition's pin.
    assert document["server"]["version"] == OLDER
    assert document["provenance"]["packages"]["gunicorn"] == OLDER
    assert document["axis"]["server_release"] == OLDER
    assert document["axis"]["django"] == "6.1.3"
    assert document["axis"]["python"].startswith(f"{HARNESS_PYTHON}.")
    assert document["axis"]["current"] is False
    assert [check["id"] for check in document["checks"]] == ["head-request"]
    assert (environments_dir / NAME / "bin" / "python").exists()
    record = json.loads(
        data.joinpath("captures", "test-machine", f"{path.parent.name}.json").read_text()
    )
    assert record["kind"] == "versions" and record["state"] == "complete"
    assert record["selection"]["scenarios"] == []
    assert not (data / "runs").exists() and not (data / "benchmarks").exists()
    assert validate(data) == []
