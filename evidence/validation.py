"""Every problem of a data directory, each naming the file, the field (as a path), the bad value
and what is allowed; nothing stops at the first error.

This is what needs no harness: parsing (``evidence.parsing``: no repeated key, no NaN, capped
sizes), shape (the schemas), layout (directories agree with content), meaning (finite numbers of
sane magnitude, no negative measurement, timestamps in order, a figure or check once, registered
metric names within their bounds, summaries that are their repeats', failed figures without
numbers, a check result's cause only on a no or partial and explained where it is not the
server's). The cross-checks against the repository's server and check ids take those ids in:
``nox -s validate`` passes the harness's, the site build (``generators.reading``) the ones its
definitions and check catalog name, so both refuse the same files.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from evidence.documents import upgraded
from evidence.files import DataError
from evidence.layout import LAYOUT_TEXT, DataDir
from evidence.metrics import unregistered_names
from evidence.parsing import parse
from evidence.summaries import bound_problems, summary_problems
from evidence.vocabulary import (
    CALIBRATION_ID,
    CAUSED_OUTCOMES,
    INTERLEAVED_ID,
    REFERENCE_TARGETS,
)

# A capture id is the UTC time the capture started; its files start within this long of it
# (a standard capture takes about an hour, a full one longer).
CAPTURE_SPAN = timedelta(days=2)
# Clocks of contributors' machines may run a little ahead.
CLOCK_SLACK = timedelta(hours=1)

# Evidence fields whose name ends in a unit are measurements and cannot be negative.
UNIT_SUFFIXES = ("_s", "_ms", "_bytes", "_rps", "_percent")
# Except offsets from an event, negative for what came before it: the client-disconnect check
# times each thing a view did from the moment its client left, and the view started earlier.
# The live-load checks place what they saw on the load's time line, which starts with the
# measured window: the server's processes were looked at, and a held stream may end, earlier.
SIGNED_OFFSETS = ("after_leaving_s", "since_window_start_s", "ended_since_window_start_s")
# No number in a data file is larger (December 2026: the largest is 2.5e10, a machine's memory
# in bytes; times are seconds since 1970, 1.8e9): a larger one is a fault, and pages that print
# it digit by digit or draw it as a bar would break.
MAX_MAGNITUDE = 1e15


@dataclass(frozen=True)
class Loaded:
    """One data file as read: where it lies and its document at the current version."""

    path: Path
    source: str  # relative to the data directory, as pages cite it
    document: dict[str, Any]


@dataclass
class Evidence:
    """Everything in one data directory, read once."""

    root: Path
    machines: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: list[Loaded] = field(default_factory=list)
    benchmarks: list[Loaded] = field(default_factory=list)
    # (machine, capture) -> the capture's own file; captures before these files have none.
    captures: dict[tuple[str, str], Loaded] = field(default_factory=dict)
    # The version axis (data/versions/, capture --versions): kept apart, so that nothing the
    # matrix, the recommendations or the pick read from ``runs`` and ``captures`` includes it.
    versions: list[Loaded] = field(default_factory=list)
    version_captures: dict[tuple[str, str], Loaded] = field(default_factory=dict)

    def capture_state(self, machine: str, capture: str) -> str | None:
        """running, interrupted or complete; None for a capture recorded without its file."""
        loaded = self.captures.get((machine, capture))
        return loaded.document["state"] if loaded else None

    def newest_runs(self) -> dict[str, Loaded]:
        """Server id -> the run file the site shows: its newest by recorded start time (then
        by finish time), among files that validate (validation refuses capture ids in the
        future and start times far from their capture id). ``NEWEST_RUN_RULE`` says so on
        the pages."""
        newest: dict[str, Loaded] = {}
        for loaded in self.runs:
            server_id = loaded.document["server"]["id"]
            current = newest.get(server_id)
            if current is None or recorded_order(loaded.document) > recorded_order(
                current.document
            ):
                newest[server_id] = loaded
        return newest


NEWEST_RUN_RULE = (
    "each server's newest run by its recorded start time, among the data files that validate "
    "(a capture id in the future, or a start time more than two days after it, is refused); a "
    "check that run did not measure comes from the newest earlier run of that server on the "
    "same machine that did, marked with its capture (and its sizing where it differs)"
)


def moment(text: Any) -> datetime:
    """A recorded ISO time as an aware datetime; the earliest time when it cannot be read
    (validation reports the field)."""
    try:
        parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def recorded_order(document: dict[str, Any]) -> tuple[datetime, datetime, str]:
    """How files of one server are ordered in time: by the recorded start, then finish."""
    started, finished = moment(document.get("started_at")), moment(document.get("finished_at"))
    return started, finished, document["capture"]


@dataclass(frozen=True)
class KnownIds:
    """Ids the harness defines; empty sets skip the cross-check (the site build has none)."""

    servers: frozenset[str] = frozenset()
    checks: frozenset[str] = frozenset()


def _numbers(value: Any, path: str) -> Iterator[tuple[str, float]]:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}/{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _numbers(item, f"{path}/{index}")


def number_problems(document: dict[str, Any]) -> list[str]:
    problems = []
    for path, number in _numbers(document, ""):
        if isinstance(number, float) and not math.isfinite(number):
            problems.append(f"{path}: {number!r} is not a finite number")
        elif abs(number) > MAX_MAGNITUDE:
            shown = (
                f"{number:g}" if isinstance(number, float) else f"a {len(str(number))}-digit int"
            )
            problems.append(f"{path}: {shown} is beyond ±{MAX_MAGNITUDE:g}, no quantity recorded")
        elif number < 0 and _is_measurement(path.rsplit("/", 1)[-1]):
            problems.append(f"{path}: {number!r} is a negative measurement (must be >= 0)")
    return problems


def timestamp_problems(document: dict[str, Any]) -> list[str]:
    problems, moments = [], {}
    fields = [
        ("started_at", document.get("started_at")),
        ("finished_at", document.get("finished_at")),
    ]
    for key in ("checks", "results"):
        fields += [
            (f"{key}/{index}/measured_at", item.get("measured_at"))
            for index, item in enumerate(document.get(key) or [])
            if isinstance(item, dict)
        ]
    for name, value in fields:
        try:
            moments[name] = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            problems.append(f"{name}: {value!r} is not an ISO 8601 timestamp")
    if {"started_at", "finished_at"} <= moments.keys() and (
        moments["finished_at"] < moments["started_at"]
    ):
        problems.append(f"finished_at: {document['finished_at']!r} is before started_at")
    return problems


def capture_time_problems(document: dict[str, Any], now: datetime) -> list[str]:
    """A capture id in the future, or far from the file's own start time, is not a real
    capture's: it would otherwise be shown as the newest result of every server it names."""
    capture = str(document.get("capture"))
    try:
        captured = datetime.strptime(capture, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return [f"capture: {capture!r} is not a UTC time (YYYYMMDDTHHMMSSZ)"]
    problems = []
    if captured > now + CLOCK_SLACK:
        problems.append(f"capture: {capture!r} is in the future (now {now:%Y%m%dT%H%M%SZ})")
    try:
        started = datetime.fromisoformat(str(document.get("started_at")).replace("Z", "+00:00"))
    except ValueError:
        return problems  # timestamp_problems names it
    try:
        within = captured - CLOCK_SLACK <= started <= captured + CAPTURE_SPAN
    except OverflowError:  # a capture id at the end of the calendar: refused as future above
        return problems
    if not within:
        problems.append(
            f"started_at: {document['started_at']!r} is not within {CAPTURE_SPAN.days} days after "
            f"its capture {capture!r} (a capture id is the time the capture started)"
        )
    return problems


def layout_problems(
    path: Path,
    document: dict[str, Any],
    known_servers: frozenset[str],
    machines: set[str],
    name: str | None = None,
) -> list[str]:
    """The directories and file name must say what the content says (``name``: the file name
    the content calls for where it is not the server id: a version file's)."""
    problems = []
    machine, capture, server = path.parts[-3], path.parts[-2], path.stem
    if document.get("machine") != machine:
        problems.append(
            f"machine: {document.get('machine')!r} must equal its directory {machine!r}"
        )
    if document.get("capture") != capture:
        problems.append(
            f"capture: {document.get('capture')!r} must equal its directory {capture!r}"
        )
    server_id = (document.get("server") or {}).get("id")
    if name is not None and name != server:
        problems.append(
            f"server/id, axis: the file name {server!r} must be {name!r} "
            "(<server>@<release>+django-<version>+python-<minor>)"
        )
    elif name is None and server_id != server:
        problems.append(f"server/id: {server_id!r} must equal the file name {server!r}")
    if known_servers and server_id not in known_servers:
        problems.append(
            f"server/id: {server_id!r} has no definition in harness/servers/ "
            f"(known: {', '.join(sorted(known_servers))})"
        )
    if document.get("machine") not in machines:
        problems.append(f"machine: {document.get('machine')!r} has no data/machines/ file")
    return problems + capture_time_problems(document, datetime.now(UTC))


def _flag_problems(index: int, figure: dict[str, Any]) -> list[str]:
    problems = []
    for number, flag in enumerate(figure.get("flags") or []):
        if flag["metric"] not in (figure.get("spread") or {}):
            problems.append(
                f"results/{index}/flags/{number}/metric: {flag['metric']!r} has no spread "
                "in this figure"
            )
    return problems


def _interleaved_target_problems(document: dict[str, Any], known: KnownIds) -> list[str]:
    """Each figure of the interleaved file names what it measured: a known server, or one of
    the reference apps."""
    targets = set(known.servers) | set(REFERENCE_TARGETS)
    problems = []
    for index, figure in enumerate(document.get("results") or []):
        target = (figure.get("params") or {}).get("target")
        if figure.get("scenario") != "interleaved":
            problems.append(
                f"results/{index}/scenario: the interleaved file holds interleaved figures "
                f"only, not {figure.get('scenario')!r}"
            )
        elif known.servers and target not in targets:
            problems.append(
                f"results/{index}/params/target: {target!r} is neither a known server nor a "
                f"reference app ({', '.join(REFERENCE_TARGETS)})"
            )
    return problems


def benchmark_problems(
    path: Path, document: dict[str, Any], known: KnownIds, machines: set[str]
) -> list[str]:
    """Meaning of a benchmark file: a failed figure publishes no number, an ok one has no
    failure, a figure appears once and its metrics are registered."""
    allowed = known.servers | {CALIBRATION_ID, INTERLEAVED_ID} if known.servers else frozenset()
    problems = layout_problems(path, document, allowed, machines)
    if (document.get("server") or {}).get("id") == INTERLEAVED_ID:
        problems += _interleaved_target_problems(document, known)
    seen = set()
    for index, figure in enumerate(document.get("results") or []):
        key = (figure.get("scenario"), figure.get("figure"))
        if key in seen:
            problems.append(f"results/{index}: {key[0]} / {key[1]!r} appears twice")
        seen.add(key)
        if figure.get("status") == "failed":
            if figure.get("metrics"):
                problems.append(
                    f"results/{index}/metrics: a failed figure must publish no metrics "
                    f"(found {', '.join(sorted(figure['metrics']))})"
                )
            if not figure.get("failure"):
                problems.append(f"results/{index}/failure: a failed figure needs its reason")
        elif figure.get("failure"):
            problems.append(f"results/{index}/failure: {figure['failure']!r} on an ok figure")
        elif figure.get("failed_by"):
            problems.append(f"results/{index}/failed_by: {figure['failed_by']!r} on an ok figure")
        problems += _flag_problems(index, figure)
        problems += summary_problems(index, figure) + bound_problems(index, figure)
    problems += unregistered_names(document)
    return problems + timestamp_problems(document) + number_problems(document)


def cause_problems(where: str, result: dict[str, Any]) -> list[str]:
    """A result's cause is on a no or partial only, and only a cause that is not the server's
    comes with a detail (the schema checks each field's values)."""
    cause, outcome = result.get("cause"), result.get("outcome")
    if cause is None:
        return [f"{where}/cause_detail: given without a cause"] if "cause_detail" in result else []
    if outcome not in CAUSED_OUTCOMES:
        allowed = " or ".join(CAUSED_OUTCOMES)
        return [f"{where}/cause: {cause!r} on a {outcome!r} outcome (only on {allowed})"]
    has_detail = bool(result.get("cause_detail"))
    if cause == "server" and has_detail:
        return [f"{where}/cause_detail: given for the 'server' cause, which needs none"]
    if cause != "server" and not has_detail:
        return [f"{where}/cause_detail: missing; the {cause!r} cause says why"]
    return []


def run_problems(
    path: Path,
    document: dict[str, Any],
    known: KnownIds,
    machines: set[str],
    name: str | None = None,
) -> list[str]:
    """Meaning, beyond the schema: ids that exist, a layout that matches the content (``name``:
    a version file's expected name; a file under data/runs/ has no ``axis``)."""
    problems = layout_problems(path, document, known.servers, machines, name)
    if name is None and "axis" in document:
        problems.append("axis: only files under data/versions/ have one (the version axis)")
    seen = set()
    for index, check in enumerate(document.get("checks") or []):
        check_id = check.get("id")
        if known.checks and check_id not in known.checks:
            problems.append(
                f"checks/{index}/id: {check_id!r} is not a known check "
                f"(known: {', '.join(sorted(known.checks))})"
            )
        if check_id in seen:
            problems.append(f"checks/{index}/id: {check_id!r} appears twice")
        seen.add(check_id)
        problems += cause_problems(f"checks/{index}", check)
        for number, option in enumerate(check.get("options") or []):
            problems += cause_problems(f"checks/{index}/options/{number}", option)
    return problems + timestamp_problems(document) + number_problems(document)


def combination_name(server_id: Any, axis: dict[str, Any]) -> str:
    """The file name (without .json) a version file of ``server_id`` with ``axis`` must have:
    ``<server>@<release>+django-<version>+python-<minor>`` (harness.versions.Combination)."""
    minor = ".".join(str(axis.get("python")).split(".")[:2])
    return f"{server_id}@{axis.get('server_release')}+django-{axis.get('django')}+python-{minor}"


def version_problems(
    path: Path,
    document: dict[str, Any],
    known: KnownIds,
    machines: set[str],
    records: dict[tuple[str, str], dict[str, Any]],
) -> list[str]:
    """A version file is a run file (``run_problems``, but for its name) with its ``axis``:
    the name must say the server and axis it holds, and the combination must be one its
    capture's record declared (from harness/versions.toml when that capture began)."""
    server_id = (document.get("server") or {}).get("id")
    axis = document.get("axis")
    if axis is None:
        return [
            *run_problems(path, document, known, machines, path.stem),
            "axis: required in files under data/versions/ (the version axis)",
        ]
    expected = combination_name(server_id, axis)
    problems = run_problems(path, document, known, machines, expected)
    record = records.get((str(document.get("machine")), str(document.get("capture"))))
    if record is None or record.get("kind") != "versions":
        problems.append(
            f"capture: {document.get('capture')!r} has no version capture record under "
            "data/captures/ that declares this file's combination"
        )
        return problems
    declared = [
        f"{item['server']}@{item['release']}+django-{item['django']}+python-{item['python']}"
        for item in record.get("combinations") or []
    ]
    if expected not in declared:
        releases = sorted(
            {item["release"] for item in record["combinations"] if item["server"] == server_id}
        )
        problems.append(
            f"axis/server_release: {axis.get('server_release')!r} with django "
            f"{axis.get('django')!r} and python {axis.get('python')!r} is not a combination its "
            f"capture declared (harness/versions.toml then; releases of {server_id!r}: "
            f"{', '.join(releases) or 'none'})"
        )
    return problems


def capture_problems(path: Path, document: dict[str, Any], machines: set[str]) -> list[str]:
    """A capture's own file: named by its machine and id, and ended after it began."""
    problems = []
    machine, capture = path.parts[-2], path.stem
    if document.get("machine") != machine:
        problems.append(
            f"machine: {document.get('machine')!r} must equal its directory {machine!r}"
        )
    if document.get("capture") != capture:
        problems.append(
            f"capture: {document.get('capture')!r} must equal the file name {capture!r}"
        )
    if document.get("machine") not in machines:
        problems.append(f"machine: {document.get('machine')!r} has no data/machines/ file")
    if document.get("state") == "complete" and document.get("finished_at") is None:
        problems.append("finished_at: a complete capture needs the time it finished")
    ended = {**document, "finished_at": document.get("finished_at") or document.get("started_at")}
    return (
        problems
        + capture_time_problems(document, datetime.now(UTC))
        + timestamp_problems(ended)
        + number_problems(document)
    )


def _read(path: Path, kind: str) -> tuple[dict[str, Any] | None, list[str]]:
    raw, problems = parse(path)
    if problems:
        return None, problems
    document, problems = upgraded(raw, kind, str(path))
    return (None if problems else document), problems


def check_data(root: Path, known: KnownIds = KnownIds()) -> tuple[Evidence, list[str]]:
    """Read every file under ``root`` once; the evidence that passed, and every problem as a
    'file: field: problem' line."""
    data, evidence, errors = DataDir(root), Evidence(root), []
    if not root.is_dir():
        return evidence, [f"{root}: no such data directory"]
    errors += [
        f"{path}: not part of the data layout ({LAYOUT_TEXT})" for path in data.stray_files()
    ]
    for path in data.machine_paths():
        document, problems = _read(path, "machine")
        if document is not None:
            problems = number_problems(document)
            if document["id"] != path.stem:
                problems.append(f"id: {document['id']!r} must equal the file name")
            if not problems:
                evidence.machines[path.stem] = document
        errors += [f"{path}: {problem}" for problem in problems]
    # A machine file with problems is reported once, not again by every run that names it.
    machines = {path.stem for path in data.machine_paths()}
    for kind, paths, judge, into in (
        ("run", data.run_paths(), run_problems, evidence.runs),
        ("benchmark", data.benchmark_paths(), benchmark_problems, evidence.benchmarks),
    ):
        for path in paths:
            document, problems = _read(path, kind)
            if document is not None:
                problems = judge(path, document, known, machines)
                if not problems:
                    into.append(Loaded(path, path.relative_to(root).as_posix(), document))
            errors += [f"{path}: {problem}" for problem in problems]
    for path in data.capture_paths():
        document, problems = _read(path, "capture")
        if document is not None:
            problems = capture_problems(path, document, machines)
            if not problems:
                loaded = Loaded(path, path.relative_to(root).as_posix(), document)
                versions = document.get("kind") == "versions"
                into = evidence.version_captures if versions else evidence.captures
                into[(document["machine"], document["capture"])] = loaded
        errors += [f"{path}: {problem}" for problem in problems]
    records = {key: loaded.document for key, loaded in evidence.version_captures.items()}
    for path in data.version_paths():
        document, problems = _read(path, "run")
        if document is not None:
            problems = version_problems(path, document, known, machines, records)
            if not problems:
                evidence.versions.append(Loaded(path, path.relative_to(root).as_posix(), document))
        errors += [f"{path}: {problem}" for problem in problems]
    return evidence, errors


def load_evidence(root: Path, known: KnownIds = KnownIds()) -> Evidence:
    """Every file under ``root``, read once; DataError lists every problem if any (``known``:
    the ids to cross-check, as in ``check_data``)."""
    evidence, problems = check_data(root, known)
    if problems:
        raise DataError("\n".join(problems))
    return evidence


def _is_measurement(field: str) -> bool:
    """Whether ``field`` names a quantity that cannot be negative."""
    return field.endswith(UNIT_SUFFIXES) and field not in SIGNED_OFFSETS
