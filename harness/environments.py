"""One isolated virtual environment per server configuration, made with uv.

Each server gets ``.venvs/<server-id>/`` holding the sample project's requirements plus the
server's own pinned requirements, so one server's dependencies cannot break another's. An
environment is reused while its requirements (and the install options) are unchanged. The
version axis (harness.versions) makes more of them the same way, one per combination of a
server release, Django and Python: ``.venvs/<server-id>@<release>+django-<v>+python-<minor>/``.

Packages are installed with their bytecode compiled, as pip does by default: a capture starts
servers hundreds of times, and where PYTHONDONTWRITEBYTECODE is set (as on the machine the
committed data comes from) Python would otherwise compile Django from source at every start,
about 1.4 s of a 2 s start on one CPU, and published start times would depend on that setting.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from evidence.layout import REPO_ROOT
from harness.definitions import ServerDefinition
from harness.process import Refused, run_helper
from harness.worker_account import AccountError, readable_interpreter, runs_as_account

ENVIRONMENTS_DIR = REPO_ROOT / ".venvs"
PROJECT_REQUIREMENTS = REPO_ROOT / "sampleproject" / "requirements.txt"
INSTALL_TIMEOUT_S = 900
_MARKER = ".serving-django-requirements"
INSTALL_OPTIONS = ("--compile-bytecode",)  # part of the fingerprint: a change reinstalls


class InstallError(Exception):
    """The server's environment could not be made; the message carries the installer's output."""


@dataclass(frozen=True)
class Environment:
    path: Path
    python_version: str
    packages: dict[str, str]

    @property
    def bin_dir(self) -> Path:
        return self.path / "bin"

    @property
    def python(self) -> Path:
        return self.bin_dir / "python"


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if found is None:
        raise InstallError("uv is not installed in the harness environment (pip install uv)")
    return found


def project_requirements() -> list[str]:
    """The sample project's pins (sampleproject/requirements.txt), one per item."""
    lines = PROJECT_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def requirements_for(definition: ServerDefinition) -> list[str]:
    return [*project_requirements(), *definition.requirements]


def _run(argv: list[str]) -> None:
    try:
        completed = run_helper(argv, INSTALL_TIMEOUT_S)
    except Refused as error:
        raise InstallError(str(error)) from error
    except subprocess.TimeoutExpired as error:
        raise InstallError(f"{' '.join(argv[:3])} timed out after {error.timeout} s") from error
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).splitlines()[-30:])
        raise InstallError(f"`{' '.join(argv)}` failed ({completed.returncode}):\n{tail}")


def _describe(path: Path) -> Environment:
    python = path / "bin" / "python"
    version = subprocess.run(
        [str(python), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    listing = subprocess.run(
        [_uv(), "pip", "list", "--python", str(python), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    packages = {item["name"].lower(): item["version"] for item in json.loads(listing)}
    return Environment(path=path, python_version=version, packages=packages)


def ensure_environment(
    definition: ServerDefinition,
    root: Path = ENVIRONMENTS_DIR,
    python: str = sys.executable,
    install_turn: Callable[[], AbstractContextManager[object]] = nullcontext,
    name: str | None = None,
    requirements: list[str] | None = None,
) -> Environment:
    """The server's environment, created or refreshed when its requirements changed;
    ``install_turn`` is entered around an actual install only (the capture's MachineLock).
    ``name`` and ``requirements`` make another environment of the same server: the version
    axis's (``.venvs/<server>@<release>+django-<v>+python-<minor>/``, harness.versions);
    by default ``.venvs/<server>/`` with the project's and the definition's pins."""
    name = name or definition.id
    path = root / name
    if runs_as_account(definition):
        # Its workers run as another account under root, which must read its Python.
        try:
            python = readable_interpreter(python, root)
        except (AccountError, OSError, subprocess.SubprocessError) as error:
            raise InstallError(f"no Python its workers' account can read: {error}") from error
    requirements = requirements if requirements is not None else requirements_for(definition)
    fingerprint = hashlib.sha256(
        json.dumps([python, requirements, INSTALL_OPTIONS]).encode()
    ).hexdigest()
    marker = path / _MARKER
    root.mkdir(parents=True, exist_ok=True)
    # Two captures running at once (two terminals, a test beside a capture) must not rebuild
    # the same environment under each other.
    with (root / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (marker.is_file() and marker.read_text().strip() == fingerprint):
            with install_turn():
                shutil.rmtree(path, ignore_errors=True)
                _run([_uv(), "venv", "--quiet", "--python", python, str(path)])
                python_path = str(path / "bin" / "python")
                install = [_uv(), "pip", "install", "--quiet", *INSTALL_OPTIONS]
                _run([*install, "--python", python_path, *requirements])
                marker.write_text(fingerprint + "\n")
        return _describe(path)
