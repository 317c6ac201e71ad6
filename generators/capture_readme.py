"""The README.md inside each capture's zip: what the capture is (machine, capture id, profile,
and the commit and times its files recorded), what each file holds and which JSON Schema it
follows, and how to validate it and render it into the site.

Everything taken from the data is untrusted text: the template prints it through
``inline_code`` (a code span no content can close early, HTML-escaped, control and invisible
characters shown), the same as the pages do, so a contributed machine description cannot add
a heading, a link or markup to the README.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from evidence.schema import SCHEMA_VERSION, has_schema
from evidence.validation import moment
from evidence.vocabulary import CALIBRATION_ID, INTERLEAVED_ID
from generators.escaping import capture_id, inline_code

if TYPE_CHECKING:  # downloads imports this module
    from generators.downloads import CaptureFiles

TEMPLATE = "capture_readme.md.j2"
# The folder of data/ a file lies in -> the kind of file (and of schema) it is.
KINDS = {"runs": "run", "benchmarks": "benchmark", "captures": "capture", "machines": "machine"}


@dataclass(frozen=True)
class ArchivedFile:
    """One data file of the archive, as the README lists it."""

    name: str  # in the archive: data/...
    holds: Markup  # what it holds, in the site's words around the data's ids
    schema_version: int | None  # as stored in the file (older files are read upgraded)
    schema: str | None  # the schema file in the archive it follows, if the archive has it


def stored_version(content: bytes) -> int | None:
    """The ``schema_version`` a data file was written with (its document as read is upgraded
    to the current version, so it cannot tell)."""
    try:
        version = json.loads(content).get("schema_version")
    except (ValueError, AttributeError):
        return None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def schema_of(kind: str | None, version: int | None, schemas: list[str]) -> str | None:
    """The archive's schema for a ``kind`` file written at ``version``: the current ones lie
    in ``schemas/``, older versions' frozen copies in ``schemas/v<N>/``."""
    if kind is None or version is None or not has_schema(kind, version):
        return None
    folder = "schemas" if version == SCHEMA_VERSION else f"schemas/v{version}"
    name = f"{folder}/{kind}.schema.json"
    return name if name in schemas else None


def _holds(kind: str | None, document: dict[str, Any] | None) -> Markup:
    """A short line on what one file holds (the README says once what each kind holds)."""
    if kind == "machine":
        return Markup("the machine")
    if kind == "capture":
        return Markup("the capture as a whole")
    if document is None:
        return Markup("")
    server = document["server"]["id"]
    if kind == "run":
        return Markup("the behaviour checks of {}").format(inline_code(server))
    scenarios = Markup(", ").join(
        inline_code(scenario)
        for scenario in sorted({record["scenario"] for record in document["results"]})
    )
    if server == CALIBRATION_ID:
        return Markup("the load tools' own ceilings: {}").format(scenarios)
    if server == INTERLEAVED_ID:
        return Markup("every configuration and the reference apps, in rounds: {}").format(scenarios)
    return Markup("the benchmark figures of {}: {}").format(inline_code(server), scenarios)


def archived_files(
    entry: CaptureFiles, data: list[tuple[str, bytes]], schemas: list[str]
) -> list[ArchivedFile]:
    found = []
    for name, content in data:
        source = name.removeprefix("data/")
        kind = KINDS.get(source.split("/", 1)[0])
        version = stored_version(content)
        found.append(
            ArchivedFile(
                name=name,
                holds=_holds(kind, entry.documents.get(source)),
                schema_version=version,
                schema=schema_of(kind, version, schemas),
            )
        )
    return found


def _provenance(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """Commits, whether any file was measured from a changed checkout, and the span of time,
    as the files recorded them."""
    commits, dirty = set(), False
    for document in documents:
        recorded = document.get("provenance") or document  # a capture file keeps them on top
        if isinstance(recorded.get("git_commit"), str):
            commits.add(recorded["git_commit"])
        dirty = dirty or recorded.get("git_dirty") is True
    starts = [document["started_at"] for document in documents if document.get("started_at")]
    ends = [document["finished_at"] for document in documents if document.get("finished_at")]
    return {
        "commits": sorted(commits),
        "dirty": dirty,
        "started_at": min(starts, key=moment, default=None),
        "finished_at": max(ends, key=moment, default=None),
    }


def _configurations(documents: list[dict[str, Any]]) -> list[str]:
    """The configurations the capture measured (not the calibration or interleaved files)."""
    ids = {
        document["server"]["id"]
        for document in documents
        if "server" in document and document["server"]["id"] not in (CALIBRATION_ID, INTERLEAVED_ID)
    }
    return sorted(ids)


def _memory(machine: dict[str, Any] | None) -> Markup | None:
    """The machine's memory in GiB (a number the schema validated, formatted here)."""
    value = (machine or {}).get("memory_bytes")
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return Markup("{:.1f} GiB").format(value / 2**30)


def capture_readme(
    env: jinja2.Environment,
    entry: CaptureFiles,
    data: list[tuple[str, bytes]],
    schemas: list[str],
) -> str:
    """The README.md of ``entry``'s archive, holding ``data`` (name, bytes) and ``schemas``."""
    documents = list(entry.documents.values())
    files = archived_files(entry, data, schemas)
    return env.get_template(TEMPLATE).render(
        entry=entry,
        archive_name=Markup("{}.zip").format(capture_id(entry.capture)),
        machine=entry.machine_document or {},
        memory=_memory(entry.machine_document),
        profiles=sorted(entry.profiles),
        configurations=_configurations(documents),
        provenance=_provenance(documents),
        files=files,
        versions=sorted({file.schema_version for file in files if file.schema_version}),
        schemas=schemas,
        current_version=SCHEMA_VERSION,
    )
