"""Where evidence lives on disk (asv-style: merging results from several people is adding files).

    data/machines/<machine>.json            one description per machine
    data/runs/<machine>/<capture>/<server>.json
                                            one server's checks in one capture
    data/benchmarks/<machine>/<capture>/<server>.json
                                            its benchmark figures (and calibration.json)
    data/captures/<machine>/<capture>.json  the capture as a whole: what it set out to
                                            measure, and whether it finished (running,
                                            interrupted, complete); older captures have none
    data/versions/<machine>/<capture>/<server>@<release>+django-<version>+python-<minor>.json
                                            one server's checks on one of its releases, with
                                            one Django and one Python (the version axis,
                                            ``capture --versions``); never part of the matrix

A capture is one invocation of the harness; its id is the UTC time it started (the next free
second when that one is taken), so two captures on one machine never share a directory and two
machines never share a file. Only one capture at a time writes a data folder: it holds an
flock on ``data/.capture.lock`` (not evidence, gitignored). The JSON Schemas
of these files are in ``evidence/schemas/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / "data"
LAYOUT_TEXT = (
    "data/machines/<machine>.json, data/runs/<machine>/<capture>/<server>.json, "
    "data/benchmarks/<machine>/<capture>/<server>.json, data/captures/<machine>/<capture>.json "
    "or data/versions/<machine>/<capture>/<server>@<release>+django-<version>+python-<minor>.json"
)
# The file a capture holds an flock on for its whole life (harness/capture_lock.py); it names the
# capture holding it and is not evidence (gitignored).
LOCK_NAME = ".capture.lock"
# Files that may sit in data/ without being evidence.
NOT_EVIDENCE = ("README.md", LOCK_NAME)


@dataclass(frozen=True)
class DataDir:
    root: Path

    def lock_path(self) -> Path:
        return self.root / LOCK_NAME

    def machine_path(self, machine_id: str) -> Path:
        return self.root / "machines" / f"{machine_id}.json"

    def machine_paths(self) -> Iterator[Path]:
        yield from sorted((self.root / "machines").glob("*.json"))

    def run_path(self, machine_id: str, capture_id: str, server_id: str) -> Path:
        return self.root / "runs" / machine_id / capture_id / f"{server_id}.json"

    def run_paths(self) -> Iterator[Path]:
        yield from sorted((self.root / "runs").glob("*/*/*.json"))

    def benchmark_path(self, machine_id: str, capture_id: str, name: str) -> Path:
        return self.root / "benchmarks" / machine_id / capture_id / f"{name}.json"

    def benchmark_paths(self) -> Iterator[Path]:
        yield from sorted((self.root / "benchmarks").glob("*/*/*.json"))

    def version_path(self, machine_id: str, capture_id: str, name: str) -> Path:
        """A version capture's run file; ``name`` is its combination's (harness.versions)."""
        return self.root / "versions" / machine_id / capture_id / f"{name}.json"

    def version_paths(self) -> Iterator[Path]:
        yield from sorted((self.root / "versions").glob("*/*/*.json"))

    def capture_path(self, machine_id: str, capture_id: str) -> Path:
        return self.root / "captures" / machine_id / f"{capture_id}.json"

    def capture_paths(self) -> Iterator[Path]:
        yield from sorted((self.root / "captures").glob("*/*.json"))

    def kind_of(self, path: Path) -> str | None:
        """ "machine", "run", "benchmark", "capture" or "version" by where ``path`` lies; None
        outside the layout."""
        parts = path.relative_to(self.root).parts
        if path.suffix != ".json":
            return None
        if len(parts) == 2 and parts[0] == "machines":
            return "machine"
        if len(parts) == 4 and parts[0] == "runs":
            return "run"
        if len(parts) == 4 and parts[0] == "benchmarks":
            return "benchmark"
        if len(parts) == 4 and parts[0] == "versions":
            return "version"
        if len(parts) == 3 and parts[0] == "captures":
            return "capture"
        return None

    def stray_files(self) -> Iterator[Path]:
        """Files under the data directory that are not part of its layout."""
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and path.name not in NOT_EVIDENCE and self.kind_of(path) is None:
                yield path
