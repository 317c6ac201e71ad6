"""A data file's bytes into JSON, strictly: what Python's ``json`` would accept quietly is refused
here, each problem named by its field.

- a key twice in one object: ``json`` keeps the last, so a file could read ``"outcome": "no"``
  to a reviewer of the diff and ``"yes"`` to the site;
- ``NaN``, ``Infinity`` and numbers too large for a float (``1e999``): not JSON, and no
  measurement;
- a file larger than ``MAX_FILE_BYTES`` (refused from its size, before it is read), an array
  longer than ``MAX_ARRAY_ITEMS`` or nesting deeper than ``MAX_DEPTH``: no capture writes one,
  and rendering one would take the site build minutes and gigabytes.

The caps stand far above the committed data (December 2026: largest file 295 kB, longest array
49 items, deepest nesting 11 levels), so they stop a runaway or hostile file, never a real one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 8 * 2**20
MAX_ARRAY_ITEMS = 10_000
MAX_DEPTH = 64


class _NotANumber:
    """Stands in for a literal JSON has no number for, until its field is known."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


class _KeysRepeated(dict):
    """An object that named a key more than once (the keys are in ``repeated``)."""

    repeated: list[str]


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) == len(pairs):
        return document
    seen: set[str] = set()
    flagged = _KeysRepeated(document)
    flagged.repeated = []
    for key, _ in pairs:
        if key in seen and key not in flagged.repeated:
            flagged.repeated.append(key)
        seen.add(key)
    return flagged


def _float(literal: str) -> float | _NotANumber:
    value = float(literal)
    return value if math.isfinite(value) else _NotANumber(literal)


def _field(path: str, key: Any) -> str:
    return f"{path}/{key}" if path else str(key)


def _problems(value: Any, path: str, depth: int) -> Iterator[str]:
    where = path or "(top level)"
    if isinstance(value, _NotANumber):
        yield f"{where}: {value.literal} is not a finite number (JSON has no NaN or Infinity)"
    elif depth > MAX_DEPTH:
        yield f"{where}: nested deeper than {MAX_DEPTH} levels"
    elif isinstance(value, dict):
        for key in getattr(value, "repeated", ()):
            yield (
                f"{_field(path, key)}: the key appears more than once in one object (a reader "
                "would keep only the last, a reviewer sees the first)"
            )
        for key, item in value.items():
            yield from _problems(item, _field(path, key), depth + 1)
    elif isinstance(value, list):
        if len(value) > MAX_ARRAY_ITEMS:
            yield f"{where}: {len(value):,} items, more than the {MAX_ARRAY_ITEMS:,} allowed"
            return
        for index, item in enumerate(value):
            yield from _problems(item, _field(path, index), depth + 1)


def parse(path: Path) -> tuple[Any, list[str]]:
    """The file's JSON, and its problems as 'field: problem' lines ('(file)' for the whole
    file); the document is None when there is any problem."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, [_too_large(size)]
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)  # the file may have grown since stat()
        if len(raw) > MAX_FILE_BYTES:
            return None, [_too_large(len(raw))]
        document = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_object,
            parse_float=_float,
            parse_constant=_NotANumber,
        )
    except (OSError, ValueError) as error:  # ValueError: undecodable, not JSON, a 5000-digit int
        return None, [f"(file): not readable JSON: {error}"]
    except RecursionError:
        return None, [f"(file): nested deeper than {MAX_DEPTH} levels"]
    problems = list(_problems(document, "", 0))
    return (None if problems else document), problems


def _too_large(size: int) -> str:
    return f"(file): {size:,} bytes, more than the {MAX_FILE_BYTES:,} a data file may hold"
