"""A "recorded" progress line means the file is on disk: a stop sent on seeing it (Ctrl-C, or
a SIGTERM from a script that waits for it) keeps the file. A line printed before the write
once lost a whole configuration's 21 minutes of benchmarks."""

from __future__ import annotations

import io
from pathlib import Path

from evidence.documents import read_document
from evidence.layout import DataDir
from harness.benchmarks.capture import _record
from harness.capture_plan import Capture
from harness.profiles import PROFILES
from harness.progress import Progress
from tests import synthetic


class DiskWatchingStream(io.StringIO):
    """A progress stream that notes, at each "recorded" line, whether ``path`` exists."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.on_disk_when_said: list[bool] = []

    def write(self, text: str) -> int:
        if " recorded in " in text:
            self.on_disk_when_said.append(self.path.is_file())
        return super().write(text)


def test_a_benchmark_file_is_on_disk_before_it_is_said_recorded(tmp_path: Path) -> None:
    capture = Capture(
        synthetic.CAPTURE_ID,
        synthetic.MACHINE_ID,
        PROFILES["quick"],
        DataDir(tmp_path / "data"),
        tmp_path / "environments",
        run_checks=False,
        scenarios=("h2load",),
    )
    path = capture.data.benchmark_path(capture.machine_id, capture.capture_id, "uvicorn")
    stream = DiskWatchingStream(path)
    document = synthetic.benchmark("uvicorn")

    written = _record(capture, "uvicorn", document, Progress(1, stream).server("uvicorn"))

    assert written == [path]
    assert stream.on_disk_when_said == [True], stream.getvalue()
    assert read_document(path, "benchmark")["server"]["id"] == "uvicorn"
