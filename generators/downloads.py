"""Downloads: one zip archive per capture (``data/captures/<machine>/<capture>.zip`` on the
site) holding that capture's data files as they are in the repository, with the machine file,
so a reader can check any figure against its raw repeats without cloning the repository.

Archives are reproducible: names sorted, every entry dated at the capture's own start, so the
same data always gives the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from markupsafe import Markup

from evidence.validation import Evidence
from generators.escaping import capture_id, slug

ARCHIVE_DIR = "data/captures"


@dataclass
class CaptureFiles:
    machine: str
    capture: str
    files: list[tuple[str, Path]] = field(default_factory=list)  # (name in the archive, path)
    profiles: set[str] = field(default_factory=set)
    state: str | None = None  # from the capture's own file; None when it has none

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
        entry.profiles.add(document["profile"])
    for key, loaded in evidence.captures.items():
        entry = found.setdefault(key, CaptureFiles(*key))
        entry.files.append((loaded.source, loaded.path))
        entry.state = loaded.document["state"]
    for (machine, _), entry in found.items():
        machine_file = evidence.root / "machines" / f"{machine}.json"
        if machine_file.exists():
            entry.files.append((f"machines/{machine}.json", machine_file))
        entry.files.sort()
    return sorted(found.values(), key=lambda entry: (entry.capture, entry.machine), reverse=True)


def archive_bytes(entry: CaptureFiles) -> bytes:
    """The capture's files in one zip, under ``data/`` as in the repository."""
    stamp = datetime.strptime(entry.capture, "%Y%m%dT%H%M%SZ").timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, path in entry.files:
            info = zipfile.ZipInfo(f"data/{name}", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def capture_archives(entries: list[CaptureFiles]) -> dict[str, bytes]:
    return {entry.archive: archive_bytes(entry) for entry in entries}
