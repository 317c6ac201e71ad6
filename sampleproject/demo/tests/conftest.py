"""Fixtures shared by the demo tests."""

from pathlib import Path

import pytest


@pytest.fixture
def state_dir(settings, tmp_path: Path) -> Path:
    """A fresh SAMPLEPROJECT_STATE_DIR, so SSE records of one test never leak into another."""
    settings.SAMPLEPROJECT_STATE_DIR = tmp_path / "state"
    return settings.SAMPLEPROJECT_STATE_DIR
