"""Progress lines: the estimate of what is left counts servers only, from their wall time."""

from __future__ import annotations

import io

import pytest

from harness import progress as progress_module
from harness.progress import Progress

RECORD = {"results": [{"status": "ok"}]}


def test_once_per_capture_files_are_left_out_of_the_estimate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [0.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: now[0])
    stream = io.StringIO()
    progress = Progress(4, stream)  # calibration, interleaved rounds, two servers
    progress.expect_capture_wide(2)
    for server_id, took_s in (("calibration", 90.0), ("interleaved", 780.0), ("alpha", 600.0)):
        now[0] += took_s
        progress.finished(server_id, RECORD, took_s)
    lines = stream.getvalue().splitlines()
    # Nothing to estimate from before a server is done; then the server's 10 min, not the
    # calibration's 1.5 min or the rounds' 13 min, times the one server left.
    assert "min left" not in lines[0] and "min left" not in lines[1]
    assert lines[2].endswith("about 10.0 min left")
