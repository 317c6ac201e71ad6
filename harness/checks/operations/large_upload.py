"""The large-upload check: a 1 GiB file uploaded through a form: does the view get every byte,
does the server's memory stay bounded, are Django's temporary files removed, and how long does
the client wait before the view starts and after its last byte?

Django parses a multipart body as it reads it and writes a file larger than
FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB, the default the sample project keeps) to a temporary file
in FILE_UPLOAD_TEMP_DIR, removed when the request ends. Under WSGI it reads from the server's
input stream while the view asks for request.FILES, so the view starts at once. Under ASGI,
Django's handler first reads the whole body into a SpooledTemporaryFile (on disk past 2.5 MiB)
and only then runs the view: the wait before the view is Django's, not the server's. A server
can still hold the body in its own memory before it hands it on, which is what the memory
figure is for. The body-limit hazard check sends a raw body to a view that only counts it;
this one is the form upload a site takes from its users.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.checks import Check, CheckContext, Finding
from harness.checks.hazards.memory import MemoryWatch
from harness.checks.hazards.raw_http import Address
from harness.checks.operations._shared import GROUP
from harness.checks.operations.upload_client import Upload, upload
from harness.process import StartError

MIB = 1024 * 1024
UPLOAD_BYTES = 1024 * MIB  # the file uploaded (tests shorten it)
UPLOAD_LIMIT_S = 600.0  # to send it and be answered: a server that stalls ends the check
# The server holds the body in memory when its processes' resident memory grew by this share
# of the upload or more; streaming to Django's temporary file keeps growth to a few MiB.
BUFFERED_FRACTION = 0.25
TEMP_DIR_VARIABLE = "DJANGO_FILE_UPLOAD_TEMP_DIR"  # FILE_UPLOAD_TEMP_DIR (settings.py)
TEMP_POLL_S = 0.1
CLEANUP_WAIT_S = 3.0  # after the answer, for the temporary file to go
ENDPOINT = "upload"

THRESHOLDS = (
    f"A {UPLOAD_BYTES // MIB:,} MiB file is POSTed as multipart/form-data with its "
    "Content-Length, made piece by piece as it is sent, to the sample project's /upload view, "
    "which reads request.FILES['file'] back in 1 MiB pieces and answers its size and SHA-256 "
    "and when it started. The server runs as deployed, in an instance of its own whose "
    f"FILE_UPLOAD_TEMP_DIR ({TEMP_DIR_VARIABLE}) is an empty scratch directory, watched every "
    f"{TEMP_POLL_S * 1000:.0f} ms for Django's temporary files; the resident memory of the "
    f"server's processes is sampled every {MemoryWatch.SAMPLE_EVERY_S * 1000:.0f} ms. Recorded: "
    "the status, whether the view saw every byte, the peak memory growth, the temporary files "
    "made and those left "
    f"{CLEANUP_WAIT_S:g} s after the answer, the seconds from the first byte sent to the view "
    "starting (under ASGI Django reads the whole body before any view runs: Django's, not the "
    "server's) and from the last byte sent to the answer. Outcome: yes = answered 200 with "
    f"every byte and the server's memory grew less than {BUFFERED_FRACTION:.0%} of the upload "
    f"({BUFFERED_FRACTION * UPLOAD_BYTES / MIB:.0f} MiB), its temporary files removed; partial "
    "= answered with every byte, but the memory grew by that much or more (the server holds "
    "the body) or a temporary file stayed; no = another status, a wrong size or checksum, or "
    f"no answer within {UPLOAD_LIMIT_S:g} s."
)


class TempDirWatch:
    """Every file seen in a directory, polled in a thread while in the block."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.seen: set[str] = set()
        self.most_at_once = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="upload-temp-watch", daemon=True)

    def present(self) -> list[str]:
        try:
            return sorted(entry.name for entry in self.directory.iterdir())
        except FileNotFoundError:
            return []

    def _look(self) -> None:
        names = self.present()
        self.seen.update(names)
        self.most_at_once = max(self.most_at_once, len(names))

    def _poll(self) -> None:
        while not self._stop.wait(TEMP_POLL_S):
            self._look()

    def __enter__(self) -> TempDirWatch:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._look()


def left_after_answer(watch: TempDirWatch) -> list[str]:
    """The temporary files still there once Django had time to remove them."""
    deadline = time.monotonic() + CLEANUP_WAIT_S
    while (names := watch.present()) and time.monotonic() < deadline:
        time.sleep(TEMP_POLL_S)
    return names


def view_answer(result: Upload) -> dict[str, Any] | None:
    """The upload view's JSON answer, if it answered 200 with one."""
    if result.answer is None or result.answer.status != 200 or not result.answer.complete:
        return None
    try:
        answer = json.loads(result.answer.body)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) and "file_bytes" in answer else None


def files_made(seen: set[str], answer: dict[str, Any] | None) -> list[str]:
    """The temporary files Django made: those the watch saw, and the one the view names (a
    small upload's file can come and go between two looks)."""
    named = answer.get("temporary_file") if answer else None
    return sorted(seen | ({Path(named).name} if named else set()))


def _seconds(first: float | None, then: float | None) -> float | None:
    return None if first is None or then is None else round(then - first, 3)


def timings(result: Upload, answer: dict[str, Any] | None) -> dict[str, float | None]:
    """When things happened, in seconds: the view's start after the client's first byte, the
    answer after its last byte, the view's own parse of the body, and the sending (a view that
    started before the sending ended read the body as it came). None where one did not happen.
    Each is a duration, never negative, as the data's validation requires of a ``_s`` field."""
    started = answer.get("started_at") if answer else None
    parsed = answer.get("parsed_at") if answer else None
    return {
        "view_started_after_first_byte_s": _seconds(result.first_byte_at, started),
        "answer_after_last_byte_s": _seconds(result.last_byte_at, result.answered_at),
        "parse_in_view_s": _seconds(started, parsed),
        "send_s": _seconds(result.first_byte_at, result.last_byte_at),
    }


def judge(record: dict[str, Any]) -> tuple[str, str]:
    """(outcome, summary) from the check's record."""
    size = record["upload"]["size_bytes"]
    answer = record["answer"]
    size_words = f"{size / MIB:,.0f} MiB"
    if answer is None:
        sent_record = record["upload"]
        status = sent_record["status"]
        said = f"HTTP {status}" if status is not None else f"no answer ({sent_record['ended']})"
        sent = sent_record["send_error"]
        return "no", (
            f"The {size_words} upload was not answered by the view: {said}"
            + (f"; sending stopped {sent}" if sent else "")
            + "."
        )
    if answer["file_bytes"] != size or answer["file_sha256"] != record["upload"]["sha256"]:
        return "no", (
            f"The view got {answer['file_bytes']:,} of {size:,} bytes"
            + ("" if answer["file_bytes"] != size else " with another checksum")
            + "."
        )
    growth = record["memory_growth_bytes"]
    held = growth >= BUFFERED_FRACTION * size
    left = record["temp_files_left"]
    seconds = record["seconds"]
    facts = (
        f"the view got all {size_words} (SHA-256 matched); the server's memory grew "
        f"{growth / MIB:,.0f} MiB; {len(record['temp_files_seen'])} temporary file(s) in "
        f"FILE_UPLOAD_TEMP_DIR, {len(left)} left; the view started "
        f"{seconds['view_started_after_first_byte_s']:.2f} s after the first byte and the "
        f"answer came {seconds['answer_after_last_byte_s']:.2f} s after the last"
    )
    if held or left:
        why = []
        if held:
            why.append(
                f"the server held the body in memory (growth of {BUFFERED_FRACTION:.0%} of the "
                "upload or more)"
            )
        if left:
            why.append("a temporary file stayed after the answer")
        return "partial", f"Answered, but {' and '.join(why)}: {facts}."
    return "yes", f"Answered: {facts}."


def _run(context: CheckContext) -> Finding:
    if context.launcher is None:
        return Finding("error", "Not measured: the check starts an instance of its own.")
    temp_dir = context.launcher.scratch / "upload-temp"
    temp_dir.mkdir(parents=True, exist_ok=True)
    for leftover in temp_dir.iterdir():  # an earlier run of the check (an option variant)
        leftover.unlink()
    try:
        with context.launcher.launch("http", env={TEMP_DIR_VARIABLE: str(temp_dir)}) as instance:
            pids = instance.process.tree_pids()
            address = Address.of(instance.base_url)
            with MemoryWatch(pids) as memory, TempDirWatch(temp_dir) as temp:
                result = upload(address, context.endpoints[ENDPOINT], UPLOAD_BYTES, UPLOAD_LIMIT_S)
            left = left_after_answer(temp)
            describe = instance.describe()
    except StartError as error:
        return Finding("error", f"Not measured: the instance did not start: {error.reason}")
    answer = view_answer(result)
    record: dict[str, Any] = {
        "instance": describe,
        "interface": context.server.interface,
        "sizing": context.capacity_text(),
        "upload": result.as_record(),
        "answer": answer,
        "seconds": timings(result, answer),
        "memory_start_bytes": memory.start_bytes,
        "memory_peak_bytes": memory.peak_bytes,
        "memory_growth_bytes": memory.growth_bytes,
        "buffered_fraction": BUFFERED_FRACTION,
        "temp_files_seen": files_made(temp.seen, answer),
        "temp_files_most_at_once": temp.most_at_once,
        "temp_files_left": left,
    }
    outcome, summary = judge(record)
    return Finding(outcome, summary, record)


CHECK = Check(
    timed=True,
    heavy=True,
    id="large-upload",
    title="Large uploads",
    group=GROUP,
    question=(
        f"When a {UPLOAD_BYTES // MIB:,} MiB file is uploaded through a form, does the view get "
        "every byte while the server's memory stays bounded and Django's temporary files go, "
        "and how long does the client wait before the view starts and after its last byte?"
    ),
    thresholds=THRESHOLDS,
    run=_run,
)
