"""The SSE lifecycle file: its line format, its reader, and appends from many processes."""

import json
import subprocess
import sys
from pathlib import Path

from demo.sse_log import events_path, read_events, record_event

PROJECT_DIR = Path(__file__).resolve().parents[2]

# Each writer process appends many records to the same file at the same time as the others.
WRITER = """
import sys
from django.conf import settings
settings.configure(SAMPLEPROJECT_STATE_DIR=sys.argv[1])
from demo.sse_log import record_event
for sent in range(int(sys.argv[3])):
    record_event(sys.argv[2], "started", sent)
"""


def test_records_are_json_lines_in_the_documented_format(state_dir):
    record_event("one", "started", 0)
    record_event("two", "started", 0)
    record_event("one", "finished", 5)
    lines = events_path().read_text().splitlines()
    assert events_path() == state_dir / "sse-events.jsonl"
    assert len(lines) == 3
    first = json.loads(lines[0])
    assert set(first) == {"stream", "event", "at", "sent"}
    assert isinstance(first["at"], float)
    assert [(r["event"], r["sent"]) for r in read_events("one")] == [
        ("started", 0),
        ("finished", 5),
    ]


def test_reading_before_any_stream_gives_nothing(state_dir):
    assert read_events("none") == []


def test_reader_skips_a_line_still_being_written(state_dir):
    record_event("partial", "started", 0)
    with events_path().open("a") as file:
        file.write('{"stream": "partial", "ev')
    assert [r["event"] for r in read_events("partial")] == ["started"]


def test_processes_appending_at_once_never_interleave_lines(state_dir):
    writers, records_each = 4, 300
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(state_dir), f"writer-{n}", str(records_each)],
            cwd=PROJECT_DIR,
        )
        for n in range(writers)
    ]
    assert [process.wait(timeout=60) for process in processes] == [0] * writers
    lines = events_path().read_text().splitlines()
    assert len(lines) == writers * records_each
    records = [json.loads(line) for line in lines]
    for n in range(writers):
        sent = [r["sent"] for r in records if r["stream"] == f"writer-{n}"]
        assert sent == list(range(records_each))
