"""The version axis (issue 37): ``harness/versions.toml`` declares, per configuration, the
releases of its server package the checks also run on, and the Django and Python versions they
run with. This loads and validates that file, and names the combinations a version capture
(``capture --versions``) measures, in the order it measures them:

1. every configuration on each of its releases, with the current Django and Python;
2. every configuration's current release with each other Django;
3. every configuration's current release with each other Python.

A combination has its own environment (``.venvs/<name>/``, harness.environments) and its own
run file (``data/versions/<machine>/<capture>/<name>.json``), named
``<server>@<release>+django-<version>+python-<minor>``. Nothing here touches the matrix, which
keeps ``.venvs/<server>/`` and the definitions' pins.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.definitions import ServerDefinition
from harness.process import Refused, run_helper

VERSIONS_FILE = Path(__file__).resolve().parent / "versions.toml"
# The definitions VERSIONS_FILE declares releases for (SERVING_DJANGO_SERVERS may point the
# harness at others, which it does not describe).
REPOSITORY_SERVERS = Path(__file__).resolve().parent / "servers"
AXIS = "axis"
SERVER_KEYS = ("releases", "notes", "requirements")
AXIS_KEYS = ("django", "python")
RELEASE = re.compile(r"^[0-9]+(\.[0-9]+){0,3}$")
PYTHON_MINOR = re.compile(r"^3\.[0-9]+$")
# The Python the harness runs on: the current matrix's, so the axis's first.
HARNESS_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
PYENV_VERSIONS = Path.home() / ".pyenv" / "versions"
FIND_TIMEOUT_S = 60


class VersionsError(Exception):
    """harness/versions.toml cannot be used; ``problems`` holds one 'file: [table]: field:
    problem' line per problem (all of them, not the first)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ServerReleases:
    """One configuration's releases, oldest first; the last is its definition's pin."""

    server_id: str
    package: str
    releases: tuple[str, ...]
    notes: Mapping[str, str]
    requirements: Mapping[str, tuple[str, ...]]  # release -> pins it needs instead

    @property
    def current(self) -> str:
        return self.releases[-1]


@dataclass(frozen=True)
class Axis:
    django: tuple[str, ...]  # oldest first; the last is the sample project's pin
    python: tuple[str, ...]  # minors; the first is the harness's

    @property
    def current_django(self) -> str:
        return self.django[-1]

    @property
    def current_python(self) -> str:
        return self.python[0]


@dataclass(frozen=True)
class Versions:
    path: Path
    servers: Mapping[str, ServerReleases]
    axis: Axis


@dataclass(frozen=True)
class Combination:
    """One environment of the version axis: a configuration's release, a Django, a Python."""

    server_id: str
    release: str
    django: str
    python: str  # minor, e.g. "3.13"
    current: bool = False  # the current matrix's release, Django and Python

    @property
    def name(self) -> str:
        return f"{self.server_id}@{self.release}+django-{self.django}+python-{self.python}"

    def as_record(self) -> dict[str, str]:
        """As a version capture's record lists it (capture schema: combinations)."""
        return {
            "server": self.server_id,
            "release": self.release,
            "django": self.django,
            "python": self.python,
        }

    def axis_record(self, python_version: str | None) -> dict[str, Any]:
        """A version run file's ``axis``: ``python_version`` is the full version the
        environment ran (its minor alone when there was no environment)."""
        return {
            "server_release": self.release,
            "django": self.django,
            "python": python_version or self.python,
            "current": self.current,
        }


def combination_from_record(record: Mapping[str, str], versions: Versions) -> Combination:
    """A combination as a capture record lists it, ``current`` judged by ``versions``."""
    combination = Combination(
        record["server"], record["release"], record["django"], record["python"]
    )
    return replace(combination, current=_is_current(combination, versions))


def _is_current(combination: Combination, versions: Versions) -> bool:
    server = versions.servers.get(combination.server_id)
    return (
        server is not None
        and combination.release == server.current
        and combination.django == versions.axis.current_django
        and combination.python == versions.axis.current_python
    )


def combinations(
    versions: Versions,
    server_ids: Iterable[str],
    release: str | None = None,
    *,
    django: str | None = None,
    python: str | None = None,
) -> list[Combination]:
    """The combinations of ``server_ids`` (in that order) a version capture measures, in the
    order it measures them (this module's docstring); ``release``, ``django``, ``python``:
    only the combinations with that server release, Django and Python minor."""
    ids = list(server_ids)
    axis = versions.axis
    planned = [
        Combination(server_id, each, axis.current_django, axis.current_python)
        for server_id in ids
        for each in versions.servers[server_id].releases
    ]
    planned += [
        Combination(server_id, versions.servers[server_id].current, django, axis.current_python)
        for server_id in ids
        for django in axis.django[:-1]
    ]
    planned += [
        Combination(server_id, versions.servers[server_id].current, axis.current_django, python)
        for server_id in ids
        for python in axis.python[1:]
    ]
    chosen = [
        c
        for c in planned
        if release in (None, c.release)
        and django in (None, c.django)
        and python in (None, c.python)
    ]
    return [replace(c, current=_is_current(c, versions)) for c in chosen]


def job_matrix(planned: Iterable[Combination]) -> dict[str, list[dict[str, str]]]:
    """``planned`` as a GitHub Actions job matrix (``strategy.matrix``): one job per
    combination, each with the fields ``capture --versions`` selects it by (server, release,
    django, python), in the order a local version capture measures them."""
    return {"include": [combination.as_record() for combination in planned]}


def _name(requirement: str) -> str:
    """A requirement's distribution name, normalized: ``uvicorn[standard]==1`` -> uvicorn."""
    return re.split(r"[\[<>=!~; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pin(requirement: str) -> str | None:
    return requirement.split("==", 1)[1].strip() if "==" in requirement else None


def _replace_pins(requirements: list[str], replacements: Iterable[str]) -> list[str]:
    """``requirements`` with each replacement in place of the pin of the same package (extras
    as the replacement writes them); a replacement of a package not in them is added."""
    by_name = {_name(item): item for item in replacements}
    replaced = [by_name.pop(_name(item), item) for item in requirements]
    return [*replaced, *by_name.values()]


def combination_requirements(
    combination: Combination,
    definition: ServerDefinition,
    versions: Versions,
    project_requirements: list[str],
) -> list[str]:
    """The pins of ``combination``'s environment: the sample project's with its Django, then
    the definition's with the server package at the release (extras kept) and any companion
    pins the release declares in ``[<id>.requirements]``."""
    project = _replace_pins(project_requirements, [f"Django=={combination.django}"])
    server = versions.servers[combination.server_id]
    own = [
        re.sub(r"==\s*[^;\s]+", f"=={combination.release}", item, count=1)
        if _name(item) == server.package
        else item
        for item in definition.requirements
    ]
    return [*project, *_replace_pins(own, server.requirements.get(combination.release, ()))]


def interpreter(minor: str) -> str:
    """The Python to make an environment of ``minor`` with: the harness's own where it is
    that minor (as the matrix's environments are made), else uv's find, else pyenv's."""
    if minor == HARNESS_PYTHON:
        return sys.executable
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is not None:
        try:
            found = run_helper([uv, "python", "find", minor], FIND_TIMEOUT_S)
        except (Refused, subprocess.TimeoutExpired):
            found = None
        if found is not None and found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip()
    candidates = sorted(
        PYENV_VERSIONS.glob(f"{minor}.*/bin/python{minor}"),
        key=lambda path: [int(part) for part in re.findall(r"\d+", path.parts[-3])],
    )
    if candidates:
        return str(candidates[-1])
    raise LookupError(
        f"no Python {minor} found (uv python find {minor}, {PYENV_VERSIONS}/{minor}.*): "
        f"install it (`uv python install {minor}` or `pyenv install {minor}`)"
    )


def load_versions(
    definitions: Mapping[str, ServerDefinition],
    project_requirements: list[str],
    path: Path = VERSIONS_FILE,
) -> Versions:
    """``path`` read and checked against the definitions and the sample project's pins;
    VersionsError lists every problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise VersionsError([f"{path}: cannot be read: {error}"]) from error
    problems: list[str] = []
    known = sorted(definitions)
    for table in raw:
        if table != AXIS and table not in definitions:
            problems.append(
                f"{path}: [{table}]: not a configuration id of harness/servers/ "
                f"(known: {', '.join(known)}) nor [{AXIS}]"
            )
    servers = {}
    django_pin = _project_django(project_requirements)
    for server_id in known:
        table = raw.get(server_id)
        where = f"{path}: [{server_id}]"
        if not isinstance(table, dict):
            problems.append(f"{where}: missing; every configuration declares its releases")
            continue
        found, found_problems = _server_releases(where, table, definitions[server_id], django_pin)
        problems += found_problems
        if found is not None:
            servers[server_id] = found
    axis, axis_problems = _axis(f"{path}: [{AXIS}]", raw.get(AXIS), django_pin)
    problems += axis_problems
    if problems or axis is None:
        raise VersionsError(problems)
    return Versions(path, servers, axis)


def _project_django(project_requirements: list[str]) -> str | None:
    pins = [_pin(item) for item in project_requirements if _name(item) == "django"]
    return pins[0] if pins else None


def _unknown_keys(where: str, table: dict[str, Any], allowed: tuple[str, ...]) -> list[str]:
    return [
        f"{where}: {key}: unknown key (allowed: {', '.join(allowed)})"
        for key in table
        if key not in allowed
    ]


def _release_list(where: str, field: str, value: Any, pattern: re.Pattern[str]) -> list[str]:
    """Problems of a list of versions: non-empty, strings of ``pattern``, no repeats."""
    if not isinstance(value, list) or not value:
        return [f"{where}: {field}: must be a non-empty list of versions, not {value!r}"]
    example = "3.13" if field == "python" else "2.0.31"
    problems = [
        f"{where}: {field}: {item!r} is not a version (like {example})"
        for item in value
        if not isinstance(item, str) or not pattern.match(item)
    ]
    repeated = sorted({item for item in value if isinstance(item, str) and value.count(item) > 1})
    if repeated:
        problems.append(f"{where}: {field}: {', '.join(repeated)} listed more than once")
    return problems


def _ordered(where: str, field: str, value: list[str], newest: str) -> list[str]:
    keys = [tuple(int(part) for part in item.split(".")) for item in value]
    if keys != sorted(keys):
        return [f"{where}: {field}: list them oldest first, {newest} last: {value}"]
    return []


def _server_releases(
    where: str, table: dict[str, Any], definition: ServerDefinition, django_pin: str | None
) -> tuple[ServerReleases | None, list[str]]:
    problems = _unknown_keys(where, table, SERVER_KEYS)
    releases = table.get("releases")
    listed = _release_list(where, "releases", releases, RELEASE)
    problems += listed
    if listed:
        return None, problems
    problems += _ordered(where, "releases", releases, "the current pin")
    package = definition.package
    pins = [_pin(item) for item in definition.requirements if _name(item) == package]
    pin = pins[0] if pins else django_pin
    if releases[-1] != pin:
        source = definition.path if pins else "sampleproject/requirements.txt"
        problems.append(
            f"{where}: releases: the last ({releases[-1]!r}) must be the current pin of "
            f"{package} ({pin!r}, from {source})"
        )
    if package == "django" and len(releases) > 1:
        problems.append(
            f"{where}: releases: its server is Django itself, whose releases [{AXIS}] django "
            f"lists; declare only the current pin ({pin!r})"
        )
    notes = table.get("notes", {})
    requirements = table.get("requirements", {})
    for field, value in (("notes", notes), ("requirements", requirements)):
        if not isinstance(value, dict):
            problems.append(f"{where}.{field}: must be a table keyed by release")
            continue
        for release in value:
            if release not in releases:
                problems.append(
                    f"{where}.{field}: {release!r} is not one of its releases "
                    f"({', '.join(releases)})"
                )
    if isinstance(notes, dict):
        problems += [
            f"{where}.notes: {release!r}: {url!r} is not an https:// address"
            for release, url in notes.items()
            if not isinstance(url, str) or not url.startswith("https://")
        ]
    if isinstance(requirements, dict):
        for release, pins_given in requirements.items():
            problems += _requirement_problems(f"{where}.requirements", release, pins_given, package)
    if problems:
        return None, problems
    return (
        ServerReleases(
            definition.id,
            package,
            tuple(releases),
            dict(notes),
            {release: tuple(items) for release, items in requirements.items()},
        ),
        [],
    )


def _requirement_problems(where: str, release: str, pins: Any, package: str) -> list[str]:
    if not isinstance(pins, list) or not all(isinstance(item, str) for item in pins):
        return [f"{where}: {release!r}: must be a list of requirement strings"]
    problems = [
        f"{where}: {release!r}: {item!r} is not pinned with == (results must be reproducible)"
        for item in pins
        if _pin(item) is None
    ]
    for item in pins:
        if _name(item) == package and _pin(item) != release:
            problems.append(
                f"{where}: {release!r}: {item!r} pins {package} to another release than {release}"
            )
    return problems


def _axis(where: str, table: Any, django_pin: str | None) -> tuple[Axis | None, list[str]]:
    if not isinstance(table, dict):
        return None, [f"{where}: missing; it lists the Django and Python versions (django, python)"]
    problems = _unknown_keys(where, table, AXIS_KEYS)
    django, python = table.get("django"), table.get("python")
    problems += _release_list(where, "django", django, RELEASE)
    problems += _release_list(where, "python", python, PYTHON_MINOR)
    if problems:
        return None, problems
    problems += _ordered(where, "django", django, "the sample project's pin")
    if django[-1] != django_pin:
        problems.append(
            f"{where}: django: the last ({django[-1]!r}) must be the sample project's pin "
            f"({django_pin!r}, sampleproject/requirements.txt)"
        )
    if python[0] != HARNESS_PYTHON:
        problems.append(
            f"{where}: python: the first ({python[0]!r}) must be the harness's Python "
            f"({HARNESS_PYTHON}), which the current matrix runs"
        )
    return (None if problems else Axis(tuple(django), tuple(python))), problems
