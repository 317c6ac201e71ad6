"""Server definitions: one small TOML file per server configuration in ``harness/servers/``.

A contributor adds a server by adding a file; nothing else in the harness names servers. The
loader is strict (unknown keys are errors) so a typo cannot silently change what is measured.
"""

from __future__ import annotations

import os
import re
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# SERVING_DJANGO_SERVERS points everything (capture, validate, the site) at another directory
# of definitions, e.g. a contributor's draft or a test's.
DEFINITIONS_DIR = Path(
    os.environ.get("SERVING_DJANGO_SERVERS") or Path(__file__).resolve().parent / "servers"
)

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
INTERFACES = ("wsgi", "asgi")
MODES = ("development", "production")
STOP_SIGNALS = ("SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP")
# Variants a server may declare; only ``http`` is required. ``reload`` is the server's own
# code-reload option (development), used by the dev-code-reload check.
COMMAND_KINDS = ("http", "tls", "http2_tls", "h2c", "reload")
PLACEHOLDERS = frozenset({"python", "host", "port", "workers", "certfile", "keyfile"})

_REQUIRED = {
    "id": str,
    "name": str,
    "interface": str,
    "mode": str,
    "summary": str,
    "homepage": str,
    "docs": str,
    "requirements": list,
    "stop_signal": str,
    "commands": dict,
}
_OPTIONAL = {"notes": list, "env": dict, "variants": dict}
# A variant is the same server with other settings, measured beside the default by the
# locust-upstream scenario (the slow-upstream article compared thread counts, for example).
VARIANT_PREFIX = "variant:"  # the launcher kind of a variant: "variant:threads-100"
_VARIANT_KEYS = ("label", "command")


class DefinitionError(Exception):
    """A server definition that cannot be used; the message names the file and field, and
    ``problems`` holds one 'file: field: problem' line per problem."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems if problems is not None else [message]


@dataclass(frozen=True)
class Variant:
    name: str
    label: str  # what differs, in words: "100 threads per worker"
    command: tuple[str, ...]  # replaces commands.http


@dataclass(frozen=True)
class ServerDefinition:
    id: str
    name: str
    interface: str
    mode: str
    summary: str
    homepage: str
    docs: str
    requirements: tuple[str, ...]
    stop_signal: str
    commands: dict[str, tuple[str, ...]]
    notes: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    variants: dict[str, Variant] = field(default_factory=dict)
    path: Path | None = None

    def argv(self, kind: str) -> tuple[str, ...] | None:
        """The command of a kind (``http``, ``tls``, ... or ``variant:NAME``); None if absent."""
        if kind.startswith(VARIANT_PREFIX):
            variant = self.variants.get(kind.removeprefix(VARIANT_PREFIX))
            return variant.command if variant else None
        return self.commands.get(kind)

    @property
    def package(self) -> str:
        """The distribution whose version names this server (Django for runserver)."""
        if not self.requirements:
            return "django"
        return re.split(r"[\[<>=!~; ]", self.requirements[0], maxsplit=1)[0].lower()

    def as_record(self) -> dict[str, Any]:
        """The definition as stored in each run, so pages can be rendered from data alone."""
        return {
            "id": self.id,
            "name": self.name,
            "interface": self.interface,
            "mode": self.mode,
            "summary": self.summary,
            "homepage": self.homepage,
            "docs": self.docs,
            "requirements": list(self.requirements),
            "notes": list(self.notes),
            "package": self.package,
            "stop_signal": self.stop_signal,
            "commands": {kind: list(argv) for kind, argv in self.commands.items()},
        }


def _placeholders_in(argument: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(argument) if name is not None}


def _problems(raw: dict[str, Any], path: Path) -> list[str]:
    """Every problem of a definition: each well-typed field is checked even when another field
    is missing or of the wrong type, so one run reports them all."""
    problems = []
    for key in raw:
        if key not in _REQUIRED and key not in _OPTIONAL:
            problems.append(f"{key}: unknown key (allowed: {', '.join([*_REQUIRED, *_OPTIONAL])})")
    typed = set()
    for key, kind in _REQUIRED.items():
        if key not in raw:
            problems.append(f"{key}: missing")
        elif not isinstance(raw[key], kind):
            problems.append(f"{key}: expected {kind.__name__}, got {raw[key]!r}")
        else:
            typed.add(key)
    for key, kind in _OPTIONAL.items():
        if key in raw and not isinstance(raw[key], kind):
            problems.append(f"{key}: expected {kind.__name__}, got {raw[key]!r}")
        elif key in raw:
            typed.add(key)
    return problems + _value_problems({key: raw[key] for key in typed}, path)


def _value_problems(raw: dict[str, Any], path: Path) -> list[str]:
    """Problems of the values of the fields present with the right type."""
    problems = []
    if "id" in raw:
        if raw["id"] != path.stem:
            problems.append(f"id: {raw['id']!r} must equal the file name {path.stem!r}")
        if not ID_PATTERN.match(raw["id"]):
            problems.append(f"id: {raw['id']!r} must match {ID_PATTERN.pattern}")
    for key, allowed in (("interface", INTERFACES), ("mode", MODES), ("stop_signal", STOP_SIGNALS)):
        if key in raw and raw[key] not in allowed:
            problems.append(f"{key}: {raw[key]!r} is not one of {allowed}")
    for key in ("homepage", "docs"):
        if key in raw and not re.match(r"^https?://", raw[key]):
            problems.append(f"{key}: {raw[key]!r} must be an http(s) URL")
    if "requirements" in raw:
        if not all(isinstance(item, str) for item in raw["requirements"]):
            problems.append("requirements: every item must be a string")
        elif any("==" not in item for item in raw["requirements"]):
            problems.append(
                "requirements: pin every requirement with == so results are reproducible"
            )
    if not all(isinstance(item, str) for item in raw.get("notes", [])):
        problems.append("notes: every item must be a string")
    if not all(isinstance(v, str) for v in raw.get("env", {}).values()):
        problems.append("env: every value must be a string")
    if "commands" in raw:
        if "http" not in raw["commands"]:
            problems.append("commands.http: missing (the plain HTTP/1.1 command is required)")
        for kind, argv in raw["commands"].items():
            if kind not in COMMAND_KINDS:
                problems.append(
                    f"commands.{kind}: unknown command kind (allowed: {', '.join(COMMAND_KINDS)})"
                )
                continue
            problems += _argv_problems(f"commands.{kind}", argv)
    for name, variant in raw.get("variants", {}).items():
        where = f"variants.{name}"
        if not ID_PATTERN.match(name):
            problems.append(f"{where}: the name must match {ID_PATTERN.pattern}")
        if not isinstance(variant, dict):
            problems.append(f"{where}: expected a table with {' and '.join(_VARIANT_KEYS)}")
            continue
        for key in variant:
            if key not in _VARIANT_KEYS:
                problems.append(f"{where}.{key}: unknown key (allowed: {', '.join(_VARIANT_KEYS)})")
        label = variant.get("label")
        if not isinstance(label, str) or not label.strip():
            problems.append(f"{where}.label: a non-empty string is required")
        problems += _argv_problems(f"{where}.command", variant.get("command"))
    return problems


def _argv_problems(where: str, argv: Any) -> list[str]:
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        return [f"{where}: must be a non-empty list of strings"]
    problems = []
    for argument in argv:
        try:
            unknown = _placeholders_in(argument) - PLACEHOLDERS
        except ValueError as error:
            problems.append(f"{where}: {argument!r}: {error}")
            continue
        if unknown:
            problems.append(
                f"{where}: {argument!r} uses unknown placeholder(s) {sorted(unknown)} "
                f"(allowed: {sorted(PLACEHOLDERS)})"
            )
    return problems


def load_definition(path: Path) -> ServerDefinition:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise DefinitionError(f"{path}: cannot read TOML: {error}") from error
    problems = _problems(raw, path)
    if problems:
        raise DefinitionError(
            f"{path}:\n  " + "\n  ".join(problems), [f"{path}: {line}" for line in problems]
        )
    return ServerDefinition(
        id=raw["id"],
        name=raw["name"],
        interface=raw["interface"],
        mode=raw["mode"],
        summary=raw["summary"],
        homepage=raw["homepage"],
        docs=raw["docs"],
        requirements=tuple(raw["requirements"]),
        stop_signal=raw["stop_signal"],
        commands={kind: tuple(argv) for kind, argv in raw["commands"].items()},
        notes=tuple(raw.get("notes", ())),
        env=dict(raw.get("env", {})),
        variants={
            name: Variant(name, variant["label"], tuple(variant["command"]))
            for name, variant in raw.get("variants", {}).items()
        },
        path=path,
    )


def load_definitions(directory: Path = DEFINITIONS_DIR) -> dict[str, ServerDefinition]:
    """Every definition in ``directory`` by id; all broken files are reported together."""
    definitions, errors, problems = {}, [], []
    for path in sorted(directory.glob("*.toml")):
        try:
            definition = load_definition(path)
        except DefinitionError as error:
            errors.append(str(error))
            problems += error.problems
            continue
        definitions[definition.id] = definition
    if errors:
        raise DefinitionError("\n".join(errors), problems)
    return definitions


def fill_command(argv: tuple[str, ...], values: dict[str, str]) -> list[str]:
    """The argv with ``{placeholders}`` replaced; literal braces are written ``{{`` and ``}}``."""
    return [argument.format_map(values) for argument in argv]
