"""The JSON Schemas of ``data/`` files (``evidence/schemas/``), and checking a document
against them."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_VERSION = 2  # what the harness writes now; older versions are upgraded as they are read
SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"


def has_schema(kind: str, version: int) -> bool:
    """Whether ``kind`` files exist at ``version`` (capture files begin at version 2)."""
    folder = SCHEMAS_DIR if version == SCHEMA_VERSION else SCHEMAS_DIR / f"v{version}"
    return (folder / f"{kind}.schema.json").is_file()


@functools.cache
def load_schema(kind: str, version: int = SCHEMA_VERSION) -> dict[str, Any]:
    """The schema of ``kind`` files at ``version`` (older ones are frozen in ``v<N>/``)."""
    folder = SCHEMAS_DIR if version == SCHEMA_VERSION else SCHEMAS_DIR / f"v{version}"
    return json.loads((folder / f"{kind}.schema.json").read_text(encoding="utf-8"))


@functools.cache
def _validator(kind: str, version: int) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load_schema(kind, version))


@functools.cache
def _evidence_validators() -> dict[str, jsonschema.Draft202012Validator]:
    schema = load_schema("check-evidence")
    return {
        check_id: jsonschema.Draft202012Validator(
            {"$ref": f"#/$defs/checks/{check_id}", "$defs": schema["$defs"]}
        )
        for check_id in schema["$defs"]["checks"]
    }


def evidence_schema_ids() -> set[str]:
    """The checks whose evidence has a schema of its fixed fields."""
    return set(_evidence_validators())


def _shortened(message: str, limit: int = 300) -> str:
    """Messages quote the bad value; a 50 kB value must not drown the report."""
    if len(message) <= limit:
        return message
    return f"{message[:200]}... ({len(message) - 280} characters left out) ...{message[-80:]}"


def _messages(validator: jsonschema.Draft202012Validator, document: Any, prefix: str) -> list[str]:
    messages = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        parts = (
            [prefix, *(str(part) for part in error.absolute_path)]
            if prefix
            else [str(part) for part in error.absolute_path]
        )
        field = "/".join(parts) or "(top level)"
        messages.append(f"{field}: {_shortened(error.message)}")
    return messages


def schema_errors(document: Any, kind: str, version: int = SCHEMA_VERSION) -> list[str]:
    """Every way ``document`` breaks the ``kind`` schema, as 'field: problem' lines (a run's
    check evidence included, by each check's evidence schema)."""
    messages = _messages(_validator(kind, version), document, "")
    if kind == "run" and version == SCHEMA_VERSION and isinstance(document, dict):
        validators = _evidence_validators()
        for index, check in enumerate(document.get("checks") or []):
            if not isinstance(check, dict) or check.get("id") not in validators:
                continue
            messages += _messages(
                validators[check["id"]], check.get("evidence"), f"checks/{index}/evidence"
            )
    return messages
