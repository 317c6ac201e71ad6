"""Downloads: one zip archive per capture (``data/captures/<machine>/<capture>.zip`` on the
site) holding that capture's data files as they are in the repository, with the machine file,
the JSON Schemas they follow (``schemas/``, as ``evidence/schemas/``) and a README.md that says
what the capture is and how to validate and render it, so a reader can check any figure against
its raw repeats without cloning the repository.

Archives are reproducible: names sorted, every entry dated at the capture's own start, so the
same data always gives the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from evidence.schema import SCHEMAS_DIR
from evidence.validation import Evidence
from generators.capture_readme import capture_readme
from generators.escaping import capture_id, slug

ARCHIVE_DIR = "data/captures"
README_NAME = "README.md"
SCHEMAS_FOLDER = "schemas"


@dataclass
class CaptureFiles:
    machine: str
    capture: str
    files: list[tuple[str, Path]] = field(default_factory=list)  # (name in data/, path)
    profiles: set[str] = field(default_factory=set)
    state: str | None = None  # from the capture's own file; None when it has none
    # Name in data/ -> the document as read (upgraded to the current schema version): what the
    # README says of the capture comes from the files themselves.
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    machine_document: dict[str, Any] | None = None

    @property
    def archive(self) -> str:
        return f"{ARCHIVE_DIR}/{self.machine}/{self.capture}.zip"

    @property
    def archive_link(self) -> Markup:
        """The archive's path as a link target (its parts are ids the schema validated; checked
        again here, since a link target is not escaped)."""
        machine, capture = slug(self.machine), capture_id(self.capture)
        return Markup("{}/{}/{}.zip").format(ARCHIVE_DIR, machine, capture)


def captures_with_files(evidence: Evidence) -> list[CaptureFiles]:
    """Every capture with its files (runs, benchmarks, its own file), newest first."""
    found: dict[tuple[str, str], CaptureFiles] = {}
    for loaded in [*evidence.runs, *evidence.benchmarks]:
        document = loaded.document
        key = (document["machine"], document["capture"])
        entry = found.setdefault(key, CaptureFiles(*key))
        entry.files.append((loaded.source, loaded.path))
        entry.documents[loaded.source] = document
        entry.profiles.add(document["profile"])
    for key, loaded in evidence.captures.items():
        entry = found.setdefault(key, CaptureFiles(*key))
        entry.files.append((loaded.source, loaded.path))
        entry.documents[loaded.source] = loaded.document
        entry.profiles.add(loaded.document["profile"])
        entry.state = loaded.document["state"]
    for (machine, _), entry in found.items():
        machine_file = evidence.root / "machines" / f"{machine}.json"
        if machine_file.exists():
            entry.files.append((f"machines/{machine}.json", machine_file))
            entry.machine_document = evidence.machines.get(machine)
        entry.files.sort()
    return sorted(found.values(), key=lambda entry: (entry.capture, entry.machine), reverse=True)


def schema_files() -> list[tuple[str, bytes]]:
    """Every JSON Schema of data/ files, current and frozen older versions (``v1/``...), by
    its name in the archive."""
    return [
        (f"{SCHEMAS_FOLDER}/{path.relative_to(SCHEMAS_DIR).as_posix()}", path.read_bytes())
        for path in sorted(SCHEMAS_DIR.rglob("*.schema.json"))
    ]


def archive_members(
    entry: CaptureFiles, env: jinja2.Environment, schemas: list[tuple[str, bytes]]
) -> list[tuple[str, bytes]]:
    """What the capture's zip holds, sorted by name: the data files under ``data/`` as in the
    repository, the schemas, and the README written from them."""
    data = [(f"data/{name}", path.read_bytes()) for name, path in entry.files]
    readme = capture_readme(env, entry, data, [name for name, _ in schemas])
    return sorted([(README_NAME, readme.encode("utf-8")), *data, *schemas])


def archive_bytes(members: list[tuple[str, bytes]], capture: str) -> bytes:
    """``members`` in one zip, every entry dated at the capture's start (its id)."""
    stamp = datetime.strptime(capture, "%Y%m%dT%H%M%SZ").timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, content in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def capture_archives(entries: list[CaptureFiles], env: jinja2.Environment) -> dict[str, bytes]:
    schemas = schema_files()  # read once: every archive holds them all
    return {
        entry.archive: archive_bytes(archive_members(entry, env, schemas), entry.capture)
        for entry in entries
    }
