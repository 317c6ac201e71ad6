"""The one JSON style of ``data/`` and atomic writes that never replace a file."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from evidence.parsing import parse


class DataError(Exception):
    """A data file that cannot be used, with the file and field named."""


class ExistingFile(DataError):
    """A write refused because its file already exists: data files are never replaced."""


def _rounded(value: Any) -> Any:
    """Round floats so re-captures produce reviewable diffs, not 17-digit noise."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"refusing to store a non-finite number: {value!r}")
        return round(value, 6)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(item) for item in value]
    return value


def dumps(document: dict[str, Any]) -> str:
    """Sorted keys, indent 2, rounded floats, trailing newline: diffs stay reviewable."""
    return json.dumps(_rounded(document), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_atomically(path: Path, text: str, *, replacing: bool = False) -> None:
    """Write ``text`` so that readers see no file or the whole new one, never a part.

    A data file is written once: when ``path`` exists the write is refused (ExistingFile) and
    the file is left as it was. ``replacing`` is the one exception, for a capture's own record,
    which the capture holding the data folder's lock rewrites as it goes (running, then
    interrupted or complete); see ``harness.capture_plan.Capture.write_record``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o644)  # evidence is public: readable by all, like a checkout's files
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        if replacing:
            os.replace(temporary, path)
        else:
            # A hard link is made whole or not at all and fails when the name exists, where a
            # rename would silently replace it; the temporary name is removed below.
            os.link(temporary, path)
    except FileExistsError:
        raise ExistingFile(
            f"refusing to replace {path}: it exists, and a data file is written once "
            "(another capture wrote it, or this capture's id was taken)"
        ) from None
    finally:
        Path(temporary).unlink(missing_ok=True)


def read_json(path: Path) -> Any:
    """The parsed file, strictly (``evidence.parsing``: no repeated key, no NaN, capped sizes);
    DataError names the file and every bad field."""
    document, problems = parse(path)
    lines = [problem.removeprefix("(file): ") for problem in problems]
    if len(lines) == 1:
        raise DataError(f"{path}: {lines[0]}")
    if lines:
        raise DataError(f"{path}:\n  " + "\n  ".join(lines))
    return document
