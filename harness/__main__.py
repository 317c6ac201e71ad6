"""Command line of the harness: ``python -m harness capture [--server ID] [--check ID]
[--scenario ID] [--quick|--full]``, or ``capture --resume [CAPTURE]`` to continue one, or
``capture --changed`` to measure only the configurations whose inputs changed, or ``capture
--versions [--server ID] [--release R] [--django D] [--python P] [--check ID]`` to run the
checks on the version axis (harness/versions.toml: older server releases, other Django and
Python versions). ``versions-matrix`` prints the version axis as a GitHub Actions job matrix
(one job per combination), and ``merge-versions DIR... --into data/`` merges the data folders
those jobs wrote into one version capture per machine (harness.version_merge).

With neither ``--check`` nor ``--scenario`` a capture runs every check and then every benchmark
scenario; naming checks runs only those checks, naming scenarios only those scenarios, and naming
both runs both selections. ``all`` names every check (``--check all``: the checks phase alone)
or every scenario."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from dataclasses import replace
from pathlib import Path

from evidence.compare import benchmark_changes, changes_in_capture
from evidence.files import DataError
from evidence.layout import DEFAULT_DATA_DIR, DataDir
from evidence.validation import KnownIds, check_data
from evidence.vocabulary import OPT_IN_SCENARIOS, SCENARIOS, STANDARD_SCENARIOS
from harness.capture import run_capture
from harness.capture_lock import CaptureLock, DataFolderBusy
from harness.capture_plan import (
    COMPLETE,
    INTERRUPTED,
    RUNNING,
    VERSIONS,
    Capture,
    NotWritable,
    check_writable,
    claim_capture_id,
)
from harness.checks import all_checks
from harness.definitions import DEFINITIONS_DIR, DefinitionError, load_definitions
from harness.environments import ENVIRONMENTS_DIR, project_requirements
from harness.fingerprints import carried_forward, fingerprints
from harness.leftovers import end_and_report_leftovers
from harness.machine_identity import choose_identity
from harness.process import end_all
from harness.profiles import PROFILES
from harness.progress import Progress
from harness.provenance import capture_id, machine_id, speed_probe
from harness.resume import CannotResume, resumed_capture
from harness.version_merge import MergeRefused, merge_versions
from harness.versions import (
    VERSIONS_FILE,
    Versions,
    VersionsError,
    combinations,
    job_matrix,
    load_versions,
)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    capture = commands.add_parser(
        "capture", help="run the checks and benchmarks on servers and record them"
    )
    capture.add_argument(
        "--server",
        action="append",
        default=[],
        metavar="ID",
        help="capture only this server (repeatable); default: all",
    )
    capture.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="ID",
        help="run only this check (repeatable; 'all' for every check); default: all, unless "
        "--scenario is given",
    )
    capture.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="ID",
        help=f"run only this benchmark scenario (repeatable; {', '.join(SCENARIOS)}, or 'all'); "
        f"default: all, unless --check is given. 'all' and the default leave out "
        f"{', '.join(OPT_IN_SCENARIOS)}, which checks the measurement rules and runs when named",
    )
    speed = capture.add_mutually_exclusive_group()
    speed.add_argument(
        "--quick",
        action="store_const",
        dest="profile",
        const="quick",
        help="fast smoke profile (one repeat per figure)",
    )
    speed.add_argument(
        "--full",
        action="store_const",
        dest="profile",
        const="full",
        help="more repeats, for dedicated hardware",
    )
    capture.set_defaults(profile="standard")
    capture.add_argument(
        "--jobs",
        type=int,
        default=3,
        metavar="N",
        help="servers captured at the same time; no timed check runs during an "
        "environment install (default: %(default)s)",
    )
    capture.add_argument(
        "--locust-workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="run Locust as one master and N local workers (default 1: one Locust process); "
        "the figures add up the workers' own per-step files",
    )
    capture.add_argument(
        "--resume",
        nargs="?",
        const="newest",
        metavar="CAPTURE",
        help="continue an interrupted capture in its own folder (default: this machine's "
        "newest unfinished one), measuring only the servers it has no file for yet, with its "
        "own selection and profile, under the machine id it began with; refused when the code "
        "differs, and while a capture (this one or another) still runs in the data folder",
    )
    capture.add_argument(
        "--changed",
        action="store_true",
        help="measure only the configurations whose fingerprint (definition, requirements, "
        "sample project, harness code, profile) differs from their newest measurement on this "
        "machine with this selection; the others are carried forward, as the output says",
    )
    capture.add_argument(
        "--versions",
        action="store_true",
        help="the version axis instead of the matrix: the checks (no benchmarks) on each "
        "configuration's releases in harness/versions.toml with the current Django and Python, "
        "then its current release with each other Django and Python; files under data/versions/",
    )
    capture.add_argument(
        "--release",
        metavar="R",
        help="with --versions: only the combinations of this server release",
    )
    capture.add_argument(
        "--django",
        metavar="D",
        help="with --versions: only the combinations with this Django (one of the axis's)",
    )
    capture.add_argument(
        "--python",
        metavar="P",
        help="with --versions: only the combinations with this Python minor (one of the axis's)",
    )
    capture.add_argument(
        "--versions-file",
        type=Path,
        default=VERSIONS_FILE,
        help="with --versions: the version axis to read (default: %(default)s)",
    )
    capture.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    capture.add_argument(
        "--servers-dir",
        type=Path,
        default=DEFINITIONS_DIR,
        help="where the server definitions are (default: %(default)s)",
    )
    capture.add_argument("--environments-dir", type=Path, default=ENVIRONMENTS_DIR)
    commands.add_parser("servers", help="list the server definitions")
    matrix = commands.add_parser(
        "versions-matrix",
        help="print the version axis's combinations as a GitHub Actions job matrix (JSON: "
        '{"include": [{"server", "release", "django", "python"}, ...]}), in capture order',
    )
    matrix.add_argument("--versions-file", type=Path, default=VERSIONS_FILE)
    matrix.add_argument("--servers-dir", type=Path, default=DEFINITIONS_DIR)
    matrix.add_argument(
        "--output", type=Path, metavar="FILE", help="write the JSON to FILE instead of stdout"
    )
    merge = commands.add_parser(
        "merge-versions",
        help="merge the data folders of version jobs (one per combination, each with its own "
        "version capture) into one version capture per machine; validated, all or nothing",
    )
    merge.add_argument("folders", nargs="+", type=Path, metavar="DIR", help="a job's data folder")
    merge.add_argument(
        "--into", type=Path, required=True, metavar="DATA", help="the data folder to merge into"
    )
    merge.add_argument(
        "--planned",
        type=Path,
        metavar="FILE",
        help="the plan's job matrix (versions-matrix's JSON): a planned combination no job "
        "recorded is named as not captured",
    )
    return parser


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def print_changes(data: DataDir, machine: str, capture: str) -> None:
    """What this capture changed against the previous one on this machine (files that do not
    validate are left out here; ``nox -s validate`` names them)."""
    evidence, _ = check_data(data.root)
    runs = [loaded.document for loaded in evidence.runs]
    changes = changes_in_capture(runs, machine, capture)
    changes += benchmark_changes(
        [loaded.document for loaded in evidence.benchmarks], machine, capture
    )
    print(f"\nchanges against the previous capture on {machine}:", file=sys.stderr)
    for change in changes:
        print(f"  {change.describe()}", file=sys.stderr)
    if not changes:
        print("  none", file=sys.stderr)


def unknown_ids(kind: str, asked: list[str], known: list[str], where: str = "") -> str | None:
    """The message for ids on the command line that do not exist, naming the ones that do."""
    unknown = [item for item in asked if item not in known]
    if not unknown:
        return None
    return f"unknown {kind} id(s): {', '.join(unknown)}. Known: {', '.join(known)}{where}"


def capture_command(args: argparse.Namespace) -> int:
    definitions = load_definitions(args.servers_dir)
    known_checks = {check.id: check for check in all_checks()}
    # "all" names every check (or scenario): `--check all` runs the checks phase alone.
    args.check = list(known_checks) if "all" in args.check else args.check
    if "all" in args.scenario:
        args.scenario = [*STANDARD_SCENARIOS, *(s for s in args.scenario if s != "all")]
    problem = unknown_ids("server", args.server, sorted(definitions), f" ({args.servers_dir})")
    problem = problem or unknown_ids("check", args.check, list(known_checks))
    problem = problem or unknown_ids("scenario", args.scenario, list(SCENARIOS))
    if args.resume and (
        args.server or args.check or args.scenario or args.profile != "standard" or args.changed
    ):
        problem = (
            "--resume continues a capture with its own servers, checks, scenarios and profile; "
            "give no --server, --check, --scenario, --quick, --full or --changed with it"
        )
    problem = problem or _versions_option_problem(args)
    versions = None
    if not problem and args.versions and not args.resume:
        try:
            versions = load_versions(definitions, project_requirements(), args.versions_file)
        except VersionsError as error:
            problem = f"invalid version axis:\n{error}"
        else:
            problem = _unknown_release(versions, args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    args.loaded_versions = versions
    end_and_report_leftovers(sys.stderr)  # nothing a killed capture left may run beside this one
    data = DataDir(args.data_dir)
    try:
        check_writable(data, machine_id())
        with CaptureLock(data) as lock:
            try:
                return _capture_holding_lock(args, data, lock, definitions, known_checks)
            finally:
                # Whatever the capture started ends before the next capture may begin.
                end_all(refuse_new=False)
    except NotWritable as error:
        print(f"error: {error}; nothing was started", file=sys.stderr)
        return 2
    except DataFolderBusy as error:
        refused = "cannot resume: " if args.resume else ""
        print(f"error: {refused}{error}; nothing was started", file=sys.stderr)
        return 2


def _versions_option_problem(args: argparse.Namespace) -> str | None:
    """What --versions cannot be given with (it runs checks only, on its own combinations),
    and --release, --django, --python without it."""
    for flag, given in (
        ("--release", args.release),
        ("--django", args.django),
        ("--python", args.python),
    ):
        if given and not args.versions:
            return f"{flag} chooses a combination of the version axis; give it with --versions"
    if not args.versions:
        return None
    refused = [
        flag
        for flag, given in (
            ("--scenario", args.scenario),
            ("--changed", args.changed),
            ("--locust-workers", args.locust_workers != 1),
        )
        if given
    ]
    if refused:
        return (
            f"--versions runs checks only, on every combination it declares; give no "
            f"{', '.join(refused)} with it"
        )
    if args.resume and (args.release or args.django or args.python):
        return (
            "--resume continues a version capture with its own combinations; give no "
            "--release, --django or --python"
        )
    return None


def _unknown_release(versions: Versions, args: argparse.Namespace) -> str | None:
    """The message for a --release that none of the chosen servers declares, a --django or
    --python the axis does not list, or a choice that leaves no combination."""
    servers = args.server or sorted(versions.servers)
    if args.release is not None and not any(
        args.release in versions.servers[server].releases for server in servers
    ):
        declared = "; ".join(
            f"{server}: {', '.join(versions.servers[server].releases)}" for server in servers
        )
        return f"release {args.release!r} is not declared in {versions.path} ({declared})"
    for flag, given, allowed in (
        ("--django", args.django, versions.axis.django),
        ("--python", args.python, versions.axis.python),
    ):
        if given is not None and given not in allowed:
            return (
                f"{flag} {given!r} is not on the axis of {versions.path} "
                f"([axis] {flag[2:]}: {', '.join(allowed)})"
            )
    if not _planned(versions, args):
        return (
            f"no combination of {', '.join(servers)} has release {args.release or 'any'}, "
            f"django {args.django or 'any'} and python {args.python or 'any'}: older releases "
            "run with the current Django and Python, other Djangos and Pythons with the current "
            "release (`python -m harness versions-matrix` lists every combination)"
        )
    return None


def _claimed(capture: Capture, lock: CaptureLock) -> Capture | None:
    """``capture`` with its own id and file (state running), named in the data folder's lock;
    None, said on stderr, when its file cannot be written (nothing was started)."""
    try:
        claimed = claim_capture_id(capture)
    except NotWritable as error:
        print(f"error: {error}; nothing was started", file=sys.stderr)
        return None
    lock.name_capture(claimed.capture_id, claimed.started_at)
    return claimed


def _planned(versions: Versions, args: argparse.Namespace) -> list:
    """The combinations a new version capture with these options measures."""
    servers = args.server or sorted(versions.servers)
    return combinations(versions, servers, args.release, django=args.django, python=args.python)


def _capture_holding_lock(
    args: argparse.Namespace,
    data: DataDir,
    lock: CaptureLock,
    definitions: dict,
    known_checks: dict,
) -> int:
    """The capture (new or resumed) while this process holds the data folder's lock: the lock
    is taken before any capture record is read or written and held until the capture ends."""
    try:
        identity = choose_identity(data, machine_id())
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if identity.problem:
        print(f"error: {identity.problem}", file=sys.stderr)
        return 2
    machine = identity.machine
    if args.resume:
        try:
            capture, chosen = resumed_capture(
                data,
                machine,
                None if args.resume == "newest" else args.resume,
                definitions,
                known_checks,
                args.environments_dir,
                args.versions_file,
            )
        except CannotResume as error:
            print(f"error: cannot resume: {error}", file=sys.stderr)
            return 2
        if args.versions and capture.kind != VERSIONS:
            print(
                f"error: cannot resume: capture {capture.capture_id} is not a version capture; "
                "resume it without --versions",
                file=sys.stderr,
            )
            return 2
        capture = replace(capture, holder=lock.holder_fields())
        lock.name_capture(capture.capture_id, capture.started_at)
        _say_what_is_kept(capture, chosen)
        capture.write_record(RUNNING)
        return _run(capture, chosen)
    if args.versions:
        return _start_version_capture(args, data, lock, definitions, known_checks, machine)
    chosen = [definitions[server] for server in (args.server or sorted(definitions))]
    everything = not args.check and not args.scenario
    checks = list(known_checks) if everything else args.check
    scenarios = list(STANDARD_SCENARIOS) if everything else args.scenario
    prints = fingerprints(chosen, args.profile, args.servers_dir)
    carried = {}
    if args.changed:
        carried = carried_forward(data, machine, args.profile, checks, scenarios, prints)
        chosen = [definition for definition in chosen if definition.id not in carried]
        _say_what_is_carried(carried, chosen)
        if not chosen:
            return 0
    capture = Capture(
        capture_id(),
        machine,
        PROFILES[args.profile],
        data,
        args.environments_dir,
        [known_checks[check] for check in args.check],
        run_checks=everything or bool(args.check),
        scenarios=STANDARD_SCENARIOS if everything else args.scenario,
        jobs=max(1, args.jobs),
        locust_workers=args.locust_workers,
        server_ids=tuple(definition.id for definition in chosen),
        speed_probe=speed_probe(),
        fingerprints={server: prints[server] for server in (d.id for d in chosen)},
        carried_forward=carried,
        holder=lock.holder_fields(),
    )
    claimed = _claimed(capture, lock)
    if claimed is None:
        return 2
    print(
        f"capture {claimed.capture_id} on {machine}: {len(chosen)} server(s), "
        f"profile {args.profile}",
        file=sys.stderr,
    )
    return _run(claimed, chosen)


def _start_version_capture(
    args: argparse.Namespace,
    data: DataDir,
    lock: CaptureLock,
    definitions: dict,
    known_checks: dict,
    machine: str,
) -> int:
    """A new version capture: checks only, on each combination of the chosen servers (and
    --release), in the order harness.versions gives; the same record, lock and phases as a
    matrix capture."""
    versions = args.loaded_versions
    planned = _planned(versions, args)
    servers = list(dict.fromkeys(combination.server_id for combination in planned))
    capture = Capture(
        capture_id(),
        machine,
        PROFILES[args.profile],
        data,
        args.environments_dir,
        [known_checks[check] for check in args.check],
        run_checks=True,
        scenarios=(),
        jobs=max(1, args.jobs),
        server_ids=tuple(servers),
        speed_probe=speed_probe(),
        holder=lock.holder_fields(),
        kind=VERSIONS,
        combinations=tuple(planned),
        versions=versions,
    )
    claimed = _claimed(capture, lock)
    if claimed is None:
        return 2
    print(
        f"version capture {claimed.capture_id} on {machine}: {len(planned)} combination(s) of "
        f"{len(servers)} server(s), profile {args.profile}",
        file=sys.stderr,
    )
    return _run(claimed, [definitions[server] for server in servers])


def _say_what_is_carried(carried: dict[str, str], chosen: list) -> None:
    for server, capture in sorted(carried.items()):
        print(
            f"{server}: unchanged since capture {capture} (same fingerprint): carried forward, "
            "not measured",
            file=sys.stderr,
        )
    if not chosen:
        print(
            "nothing changed since the newest measurements on this machine: nothing to measure",
            file=sys.stderr,
        )
    elif carried:
        measured = ", ".join(definition.id for definition in chosen)
        print(f"changed, measured again: {measured}", file=sys.stderr)


def _say_what_is_kept(capture: Capture, chosen: list) -> None:
    if capture.kind == VERSIONS:
        left = len(capture.to_check(chosen))
        print(
            f"resuming version capture {capture.capture_id} on {capture.machine_id} (profile "
            f"{capture.profile.name}): keeping {len(capture.combinations) - left} of "
            f"{len(capture.combinations)} combination file(s); measuring the rest",
            file=sys.stderr,
        )
        return
    kept = {
        kind: sum(capture.has_file(kind, definition.id) for definition in chosen)
        for kind in ("runs", "benchmarks")
    }
    print(
        f"resuming capture {capture.capture_id} on {capture.machine_id} (profile "
        f"{capture.profile.name}): keeping {kept['runs']} run and {kept['benchmarks']} "
        f"benchmark file(s) of {len(chosen)} server(s); measuring the rest",
        file=sys.stderr,
    )


def _run(capture: Capture, chosen: list) -> int:
    """Run the capture (its own file says running), then record it complete or interrupted."""
    try:
        written = run_capture(capture, chosen, Progress(len(capture.to_check(chosen))))
    except BaseException:
        capture.write_record(INTERRUPTED)
        raise
    capture.write_record(COMPLETE)
    data, machine = capture.data, capture.machine_id
    if capture.kind != VERSIONS:  # version files are compared on their own page, not here
        print_changes(data, machine, capture.capture_id)
    for kind in ("runs", "benchmarks", "versions"):
        count = sum(1 for path in written if path.parts[-4] == kind)
        if count:
            where = data.root / kind / machine / capture.capture_id
            print(f"wrote {count} {kind} file(s) under {where}", file=sys.stderr)
    if capture.not_captured:
        print(f"not captured ({len(capture.not_captured)}):", file=sys.stderr)
        for name, reason in sorted(capture.not_captured.items()):
            print(f"  {name}: {reason}"[:500], file=sys.stderr)
        return 1
    return 0


def versions_matrix_command(args: argparse.Namespace) -> int:
    """The job matrix of the version workflow: every combination ``capture --versions``
    measures, from harness.versions's own plan."""
    definitions = load_definitions(args.servers_dir)
    try:
        versions = load_versions(definitions, project_requirements(), args.versions_file)
    except VersionsError as error:
        print(f"error: invalid version axis:\n{error}", file=sys.stderr)
        return 2
    text = json.dumps(job_matrix(combinations(versions, sorted(versions.servers))))
    if args.output is None:
        print(text)
    else:
        args.output.write_text(text + "\n", encoding="utf-8")
    return 0


def _planned_jobs(path: Path) -> list[dict[str, str]]:
    """The combinations of a versions-matrix JSON file; MergeRefused names what is wrong."""
    try:
        include = json.loads(path.read_text(encoding="utf-8"))["include"]
        keys = ("server", "release", "django", "python")
        return [{key: str(entry[key]) for key in keys} for entry in include]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise MergeRefused([f"{path}: not a versions-matrix plan ({error!r})"]) from error


def merge_versions_command(args: argparse.Namespace) -> int:
    """Merge the version jobs' data folders (harness.version_merge), cross-checked against the
    harness's server and check ids as ``nox -s validate`` does."""
    known = KnownIds(frozenset(load_definitions()), frozenset(check.id for check in all_checks()))
    try:
        planned = _planned_jobs(args.planned) if args.planned else []
        merged = merge_versions(args.folders, args.into, known, planned)
    except MergeRefused as error:
        lines = "\n  ".join(error.problems)
        print(f"error: refusing to merge (nothing was written):\n  {lines}", file=sys.stderr)
        return 2
    except DataFolderBusy as error:
        print(f"error: {error}; nothing was merged", file=sys.stderr)
        return 2
    for capture in merged:
        print(
            f"merged {capture.file_count()} version file(s) of {len(capture.jobs)} job(s) into "
            f"capture {capture.capture} on {capture.machine} ({capture.state}): "
            f"{args.into / 'versions' / capture.machine / capture.capture}",
            file=sys.stderr,
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if args.command == "servers":
            for definition in load_definitions().values():
                print(
                    f"{definition.id:20} {definition.interface:5} {definition.mode:12} "
                    f"{definition.name}"
                )
            return 0
        if args.command == "versions-matrix":
            return versions_matrix_command(args)
        if args.command == "merge-versions":
            return merge_versions_command(args)
        return capture_command(args)
    except DefinitionError as error:
        print(f"error: invalid server definition(s):\n{error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\ninterrupted: stopping servers; the files already written are complete, the "
            "server in progress was not recorded; `capture --resume` continues this capture",
            file=sys.stderr,
        )
        return 130
    finally:
        end_all()


if __name__ == "__main__":
    sys.exit(main())
