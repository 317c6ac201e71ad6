"""Server definitions: one small TOML file per server configuration in ``harness/servers/``.

A contributor adds a server by adding a file; nothing else in the harness names servers. The
loader is strict (unknown keys are errors) so a typo cannot silently change what is measured.
"""

from __future__ import annotations

import os
import re
import string
import tomllib
from dataclasses import dataclass, field, replace
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
# code-reload option (development), used by the dev-code-reload check; ``http3`` serves
# HTTP/3 over QUIC beside HTTPS on the same port number (UDP), for the http3 check.
COMMAND_KINDS = ("http", "tls", "http2_tls", "h2c", "reload", "http3")
# ``scratch``: the server's scratch directory (removed after the run), for a server that
# writes its own files (mod_wsgi-express's --server-root). ``user``/``group``: the account its
# workers run as, for servers that refuse root (harness/worker_account.py). ``static_root``:
# the STATIC_ROOT collected for this server (a server's own static mount).
PLACEHOLDERS = frozenset(
    {
        "python",
        "host",
        "port",
        "workers",
        "threads",
        "certfile",
        "keyfile",
        "scratch",
        "user",
        "group",
        "static_root",
    }
)
# How one worker process serves requests, which decides what "capacity" means for it.
SERVES = {
    "threads": "a pool of `threads` threads, one request each",
    "one-at-a-time": "one request at a time",
    "event-loop": "an event loop (no fixed bound on requests in flight)",
    "greenlets": "greenlets (no fixed bound below the connection limit)",
    "thread-per-request": "a new thread per request (no fixed bound)",
}
_PRODUCTION_KEYS = {
    "workers_per_cpu": int,
    "workers_plus": int,
    "threads": int,
    "serves": str,
    "rule": str,
    "docs": str,
    "loop": str,
}
_PRODUCTION_REQUIRED = ("workers_per_cpu", "workers_plus", "serves", "rule", "docs")

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
    "production": dict,
}
_OPTIONAL = {
    "notes": list,
    "env": dict,
    "variants": dict,
    "options": dict,
    "absent": list,
    "help": list,
    "operations": dict,
}
# A variant is the same server with other settings, measured beside the default by the
# locust-upstream scenario (the slow-upstream article compared thread counts, for example).
VARIANT_PREFIX = "variant:"  # the launcher kind of a variant: "variant:threads-100"
_VARIANT_KEYS = ("label", "command")
# ``threads``: the thread pool per worker a variant serves with, filled into its command's
# {threads} (the production count otherwise), so that its capacity is data, not a number
# inside a command line.
_VARIANT_OPTIONAL = ("threads",)
# An option is a documented switch of the server that the checks named in it are tried with
# as well as with the default commands: its commands replace the default ones of those kinds
# while those checks run. The matrix shows the best outcome and the option it needed.
_OPTION_KEYS = ("label", "docs", "checks", "commands")
# An option after which the server answers only under a path prefix says so (``mount``); it is
# probed for readiness there. (Uvicorn's --root-path instead expects the proxy to strip the
# prefix, so its options declare none.)
_OPTION_OPTIONAL = ("mount",)
# A claim that the pinned version has no option for a behaviour: ``option`` is the flag (as
# its --help would print it) whose absence the help text stored with every run must confirm.
_ABSENT_KEYS = ("option", "checks", "note")
# How the server is operated once running (``[operations]``): the signal its documentation (or,
# where it documents none, its source) names for a graceful reload of its workers, with the
# page that says so and what the pinned version does on it; a server without one declares no
# ``reload_signal`` and says so in ``reload_note``, with ``reload_docs`` the page that shows it.
_OPERATIONS_KEYS = ("reload_docs", "reload_note", "recycle_docs", "recycle_note")
# ``recycle_args``: what the server's command gains to recycle each worker after a number of
# requests ({max_requests}) with a random or staggered addition ({jitter}); absent where the
# server has no such setting (``recycle_note`` says so, ``recycle_docs`` shows it).
_OPERATIONS_OPTIONAL = ("reload_signal", "recycle_args")
RECYCLE_PLACEHOLDERS = ("max_requests", "jitter")
RELOAD_SIGNALS = ("SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH")


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
    threads: int | None = None  # its {threads}, where it changes the thread pool


@dataclass(frozen=True)
class OptionVariant:
    id: str
    label: str  # the switch, as a reader types it: "--http zttp --http2 (and the zttp package)"
    docs: str  # where the server documents it, for the pinned version
    checks: tuple[str, ...]  # the checks tried with it
    commands: dict[str, tuple[str, ...]]  # replace the default commands of these kinds
    mount: str = ""  # the path prefix the option mounts the project under, if it does

    def as_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "docs": self.docs,
            "checks": list(self.checks),
            "commands": {kind: list(argv) for kind, argv in self.commands.items()},
            **({"mount": self.mount} if self.mount else {}),
        }


@dataclass(frozen=True)
class AbsentOption:
    option: str  # e.g. "--h2c": must not appear in the pinned version's --help
    checks: tuple[str, ...]
    note: str  # what a reader should know: "daphne 4.2.3 has no cleartext HTTP/2 option"


@dataclass(frozen=True)
class Operations:
    """``[operations]``: the server's reload signal (None: it has no reload mechanism), the page
    that documents it (or shows its absence), and what the pinned version does on it."""

    reload_signal: str | None
    reload_docs: str
    reload_note: str
    recycle_args: tuple[str, ...] | None = None
    recycle_docs: str = ""
    recycle_note: str = ""


@dataclass(frozen=True)
class Production:
    """How the server is sized in production for the CPUs it is given (``[production]``):
    ``workers_per_cpu`` x CPUs + ``workers_plus`` worker processes, each serving as ``serves``
    says (with ``threads`` threads for ``serves = "threads"``), by the rule its documentation
    gives (``rule`` in words, ``docs`` the page). ``loop`` is the event loop an ASGI worker
    runs. The defaults (one worker, no bound) are for definitions built in code by tests."""

    workers_per_cpu: int = 0
    workers_plus: int = 1
    serves: str = "thread-per-request"
    threads: int | None = None
    rule: str = "one process"
    docs: str = ""
    loop: str | None = None

    def workers(self, cpus: int) -> int:
        if cpus < 1:
            raise ValueError(f"a server is given at least one CPU, not {cpus}")
        return self.workers_per_cpu * cpus + self.workers_plus

    def as_record(self) -> dict[str, Any]:
        return {
            "workers_per_cpu": self.workers_per_cpu,
            "workers_plus": self.workers_plus,
            "serves": self.serves,
            "threads": self.threads,
            "rule": self.rule,
            "docs": self.docs,
            "loop": self.loop,
        }


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
    options: dict[str, OptionVariant] = field(default_factory=dict)
    absent: tuple[AbsentOption, ...] = ()
    help: tuple[str, ...] | None = None  # prints the server's options (stored with each run)
    mount: str = ""  # the path prefix Django is served under (set by an option that mounts it)
    production: Production = field(default_factory=Production)
    operations: Operations | None = None
    path: Path | None = None

    def production_workers(self, cores: int) -> int:
        """Worker processes for ``cores`` CPUs, by the rule the server documents."""
        return self.production.workers(cores)

    @property
    def production_threads(self) -> int | None:
        """Threads per worker: the pool for threaded workers, 1 for one-at-a-time workers,
        None where requests are not bound to threads (event loops, greenlets, a thread per
        request)."""
        if self.production.serves == "threads":
            return self.production.threads
        return 1 if self.production.serves == "one-at-a-time" else None

    def capacity(self, cores: int) -> int | None:
        """Sync requests served at once on ``cores`` CPUs: workers x threads; None where the
        server sets no such bound (event loops, greenlets, a thread per request)."""
        threads = self.production_threads
        return None if threads is None else self.production_workers(cores) * threads

    def threads_of(self, kind: str) -> int | None:
        """Threads per worker of the command ``kind``: a variant's own pool where it declares
        one, the production count otherwise."""
        if kind.startswith(VARIANT_PREFIX):
            variant = self.variants.get(kind.removeprefix(VARIANT_PREFIX))
            if variant is not None and variant.threads is not None:
                return variant.threads
        return self.production_threads

    def requests_at_once(self, kind: str, workers: int) -> int | None:
        """Sync requests the command ``kind`` serves at once with ``workers`` processes
        (workers x threads); None where the server sets no such bound."""
        threads = self.threads_of(kind)
        return None if threads is None else workers * threads

    def describe_capacity(self, cores: int) -> str:
        """The capacity in words, as verdicts state it: "3 workers x 8 threads = 24"."""
        workers = self.production_workers(cores)
        processes = f"{workers} worker{'s' if workers != 1 else ''}"
        threads, capacity = self.production_threads, self.capacity(cores)
        if capacity is None:
            each = ", each" if workers != 1 else ""
            return f"{processes}{each} serving with {SERVES[self.production.serves]}"
        if self.production.serves == "one-at-a-time":
            return f"{processes}, one request each = {capacity}"
        return f"{processes} x {threads} threads = {capacity}"

    def with_option(self, option_id: str) -> ServerDefinition:
        """This server as started with one of its options: its commands replace the defaults."""
        option = self.options[option_id]
        return replace(self, commands={**self.commands, **option.commands}, mount=option.mount)

    def all_commands(self) -> list[tuple[str, ...]]:
        """Every command it may be started with: its own, its options' and its variants'."""
        return [
            *self.commands.values(),
            *(argv for option in self.options.values() for argv in option.commands.values()),
            *(variant.command for variant in self.variants.values()),
        ]

    def options_for(self, check_id: str) -> list[OptionVariant]:
        return [option for option in self.options.values() if check_id in option.checks]

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
            "options": {name: option.as_record() for name, option in self.options.items()},
            "absent": [
                {"option": a.option, "checks": list(a.checks), "note": a.note} for a in self.absent
            ],
        }


def placeholders_in(argument: str) -> set[str]:
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
        allowed = (*_VARIANT_KEYS, *_VARIANT_OPTIONAL)
        for key in variant:
            if key not in allowed:
                problems.append(f"{where}.{key}: unknown key (allowed: {', '.join(allowed)})")
        threads = variant.get("threads")
        if threads is not None and (
            not isinstance(threads, int) or isinstance(threads, bool) or threads < 1
        ):
            problems.append(f"{where}.threads: {threads!r} must be a whole number of at least 1")
        label = variant.get("label")
        if not isinstance(label, str) or not label.strip():
            problems.append(f"{where}.label: a non-empty string is required")
        problems += _argv_problems(f"{where}.command", variant.get("command"))
    problems += _option_problems(raw.get("options", {}))
    for index, claim in enumerate(raw.get("absent", [])):
        where = f"absent[{index}]"
        if not isinstance(claim, dict) or set(claim) != set(_ABSENT_KEYS):
            problems.append(f"{where}: expected a table with exactly {', '.join(_ABSENT_KEYS)}")
        elif not _strings(claim["checks"]) or not all(
            isinstance(claim[key], str) and claim[key] for key in ("option", "note")
        ):
            problems.append(f"{where}: option and note are strings, checks a list of check ids")
    if "help" in raw:
        problems += _argv_problems("help", raw["help"])
    if "production" in raw:
        problems += _production_problems(raw["production"], raw.get("interface"))
    if "operations" in raw:
        problems += _operations_problems(raw["operations"])
    return problems


def _operations_problems(table: dict[str, Any]) -> list[str]:
    """Problems of ``[operations]``, each named ``operations.<field>``."""
    problems = []
    allowed = (*_OPERATIONS_KEYS, *_OPERATIONS_OPTIONAL)
    for key in table:
        if key not in allowed:
            problems.append(f"operations.{key}: unknown key (allowed: {', '.join(allowed)})")
    for key in _OPERATIONS_KEYS:
        if not isinstance(table.get(key), str) or not table[key].strip():
            problems.append(f"operations.{key}: a non-empty string is required")
    for key in ("reload_docs", "recycle_docs"):
        docs = table.get(key)
        if isinstance(docs, str) and not re.match(r"^https?://", docs):
            problems.append(f"operations.{key}: {docs!r} must be an http(s) URL")
    args = table.get("recycle_args")
    if args is not None:
        if not _strings(args) or not args:
            problems.append("operations.recycle_args: must be a non-empty list of strings")
        else:
            unknown = sorted(
                {name for arg in args for name in placeholders_in(arg)} - set(RECYCLE_PLACEHOLDERS)
            )
            if unknown:
                problems.append(
                    f"operations.recycle_args: unknown placeholder(s) {unknown} (allowed: "
                    f"{', '.join(RECYCLE_PLACEHOLDERS)})"
                )
    signal_name = table.get("reload_signal")
    if signal_name is not None and signal_name not in RELOAD_SIGNALS:
        problems.append(f"operations.reload_signal: {signal_name!r} is not one of {RELOAD_SIGNALS}")
    return problems


def _production_problems(table: dict[str, Any], interface: Any) -> list[str]:
    """Problems of ``[production]``, each named ``production.<field>``."""
    problems = []
    for key, value in table.items():
        kind = _PRODUCTION_KEYS.get(key)
        if kind is None:
            problems.append(
                f"production.{key}: unknown key (allowed: {', '.join(_PRODUCTION_KEYS)})"
            )
        elif not isinstance(value, kind) or isinstance(value, bool):
            problems.append(f"production.{key}: expected {kind.__name__}, got {value!r}")
    for key in _PRODUCTION_REQUIRED:
        if key not in table:
            problems.append(f"production.{key}: missing")
    if problems:
        return problems
    if table["workers_per_cpu"] < 0 or table["workers_plus"] < 0:
        problems.append("production.workers_per_cpu/workers_plus: must not be negative")
    elif table["workers_per_cpu"] + table["workers_plus"] < 1:
        problems.append(
            "production.workers_per_cpu: workers_per_cpu x CPUs + workers_plus must give at "
            "least one worker on one CPU"
        )
    serves = table["serves"]
    if serves not in SERVES:
        problems.append(f"production.serves: {serves!r} is not one of {tuple(SERVES)}")
    elif serves == "threads" and table.get("threads", 0) < 1:
        problems.append('production.threads: a positive count is required with serves = "threads"')
    elif serves != "threads" and "threads" in table:
        problems.append(f'production.threads: only for serves = "threads", not {serves!r}')
    if serves == "event-loop" and not table.get("loop", "").strip():
        problems.append("production.loop: say which event loop the workers run")
    if not table["rule"].strip():
        problems.append("production.rule: the sizing rule in words is required")
    if not re.match(r"^https?://", table["docs"]):
        problems.append(f"production.docs: {table['docs']!r} must be an http(s) URL")
    return problems


def _strings(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def _option_problems(options: dict[str, Any]) -> list[str]:
    problems = []
    for name, option in options.items():
        where = f"options.{name}"
        if not ID_PATTERN.match(name):
            problems.append(f"{where}: the name must match {ID_PATTERN.pattern}")
        if not isinstance(option, dict):
            problems.append(f"{where}: expected a table with {', '.join(_OPTION_KEYS)}")
            continue
        allowed = (*_OPTION_KEYS, *_OPTION_OPTIONAL)
        for key in option:
            if key not in allowed:
                problems.append(f"{where}.{key}: unknown key (allowed: {', '.join(allowed)})")
        mount = option.get("mount", "/x")
        if not isinstance(mount, str) or not re.match(r"^/[A-Za-z0-9._~-]+$", mount):
            problems.append(f"{where}.mount: a path prefix such as /app")
        for key in _OPTION_KEYS:
            if key not in option:
                problems.append(f"{where}.{key}: missing")
        if not isinstance(option.get("label", ""), str) or not option.get("label", "x").strip():
            problems.append(f"{where}.label: a non-empty string is required")
        if not re.match(r"^https?://", str(option.get("docs", "http://"))):
            problems.append(f"{where}.docs: must be an http(s) URL")
        if "checks" in option and not _strings(option["checks"]):
            problems.append(f"{where}.checks: a non-empty list of check ids")
        commands = option.get("commands", {})
        if not isinstance(commands, dict) or not commands:
            problems.append(f"{where}.commands: a table of command kinds to argv lists")
            continue
        for kind, argv in commands.items():
            if kind not in COMMAND_KINDS:
                problems.append(
                    f"{where}.commands.{kind}: unknown command kind "
                    f"(allowed: {', '.join(COMMAND_KINDS)})"
                )
                continue
            problems += _argv_problems(f"{where}.commands.{kind}", argv)
    return problems


def _argv_problems(where: str, argv: Any) -> list[str]:
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        return [f"{where}: must be a non-empty list of strings"]
    problems = []
    for argument in argv:
        try:
            unknown = placeholders_in(argument) - PLACEHOLDERS
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
            name: Variant(name, variant["label"], tuple(variant["command"]), variant.get("threads"))
            for name, variant in raw.get("variants", {}).items()
        },
        options={
            name: OptionVariant(
                name,
                option["label"],
                option["docs"],
                tuple(option["checks"]),
                {kind: tuple(argv) for kind, argv in option["commands"].items()},
                option.get("mount", ""),
            )
            for name, option in raw.get("options", {}).items()
        },
        absent=tuple(
            AbsentOption(claim["option"], tuple(claim["checks"]), claim["note"])
            for claim in raw.get("absent", [])
        ),
        help=tuple(raw["help"]) if "help" in raw else None,
        production=Production(
            workers_per_cpu=raw["production"]["workers_per_cpu"],
            workers_plus=raw["production"]["workers_plus"],
            serves=raw["production"]["serves"],
            threads=raw["production"].get("threads"),
            rule=raw["production"]["rule"],
            docs=raw["production"]["docs"],
            loop=raw["production"].get("loop"),
        ),
        operations=Operations(
            raw["operations"].get("reload_signal"),
            raw["operations"]["reload_docs"],
            raw["operations"]["reload_note"],
            tuple(raw["operations"]["recycle_args"])
            if "recycle_args" in raw["operations"]
            else None,
            raw["operations"]["recycle_docs"],
            raw["operations"]["recycle_note"],
        )
        if "operations" in raw
        else None,
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
