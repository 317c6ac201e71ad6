"""The two commands a server page offers to copy: one for production and one for development,
assembled only from commands the checks ran, each with the check results that back it.

A documented option whose check outcome beat the default's (``condition`` on a presented
result) goes into the command of its kind, so the production command of uWSGI carries its
graceful-stop hook only because the graceful-shutdown check was measured with it. Options that
add arguments to the default command are combined; an option whose command rewrites the default
(uWSGI's hook replaces ``--die-on-term``) is taken as the base, and a second rewrite is left out
and named rather than guessed at. An option that only matters in one deployment (a path prefix)
is listed beside the command, not put in it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace
from typing import Any

# What a production deployment of a server needs to have been measured, and what development
# needs; the page lists each check's outcome beside the command.
PRODUCTION_CHECKS = (
    "graceful-shutdown",
    "concurrency-sync-sleep",
    "concurrency-async-sleep",
    "sse",
    "websocket",
    "tls",
    "http2-tls",
)
OPERATIONS_GROUP = "Operations"  # the day-two checks (harness/checks/operations)
DEVELOPMENT_CHECKS = ("dev-code-reload", "dev-template-reload", "dev-static")
# Checks whose options serve one kind of deployment only: their options are offered beside the
# command, with the situation, instead of in every team's command.
SITUATIONAL_CHECKS = {"root-path": "when the project is served under a path prefix"}
SHOWN_VALUES = {
    "python": "python",
    "host": "127.0.0.1",
    "port": "8000",
    "certfile": "cert.pem",
    "keyfile": "key.pem",
    # mod_wsgi-express's --server-root (a directory of its own) and, started by root, the
    # account its workers run as.
    "scratch": "/srv/mod_wsgi",
    "user": "www-data",
    "group": "www-data",
}


@dataclass(frozen=True)
class Backing:
    check_id: str
    title: str
    outcome: str
    condition: dict[str, Any] | None  # the option the outcome needed, if any


@dataclass(frozen=True)
class Command:
    argv: list[str]
    options: list[dict[str, Any]]  # the documented options it includes (label, docs, check)
    backed_by: list[Backing]
    # How the run was sized (provenance.sizing: CPUs, workers, threads, the rule in words and
    # its docs), so the page can say how to scale the command; None in files from before it.
    sizing: dict[str, Any] | None = None
    # Options that did better but are not in argv: for one situation only ("situation" says
    # which), or a second rewrite of the command that cannot be combined with the first.
    beside: list[dict[str, Any]] = field(default_factory=list)


# A command up to this long stays on one line; a longer one gets a line per option, so a page
# shows it whole at any width instead of in a box that scrolls sideways.
ONE_LINE_UP_TO = 60


def shell_lines(argv: list[str]) -> str:
    """``argv`` as shell text to copy: one line, or a line per option continued with `` \\``.

    The words before the first option share the first line; an option without ``=`` keeps
    the one word after it (its value, or a positional argument when the option takes none:
    the command runs the same either way)."""
    words = [shlex.quote(argument) for argument in argv]
    if len(" ".join(words)) <= ONE_LINE_UP_TO:
        return " ".join(words)
    lines: list[list[str]] = []
    for argument, word in zip(argv, words, strict=True):
        previous = lines[-1] if lines else []
        takes_this = len(lines) == 1 or (
            len(previous) == 1 and previous[0].startswith("-") and "=" not in previous[0]
        )
        if lines and not argument.startswith("-") and takes_this:
            previous.append(word)
        else:
            lines.append([word])
    return " \\\n    ".join(" ".join(line) for line in lines)


def _filled(argv: list[str], provenance: dict[str, Any]) -> list[str]:
    """The argv with the counts the run used: its workers and, where a command takes them,
    its threads per worker."""
    sizing = provenance.get("sizing") or {}
    values = {
        **SHOWN_VALUES,
        "workers": str(provenance.get("workers") or 1),
        "threads": str(sizing.get("threads")),
    }
    return [argument.format_map(values) for argument in argv]


def added_arguments(default: list[str], option: list[str]) -> list[str] | None:
    """What an option's command adds at the end of the default one; None when it rewrites the
    default instead (then it cannot simply be added to another option's command)."""
    if option[: len(default)] == default:
        return option[len(default) :]
    return None


def _better_options(run: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """Each option that made a check better than the default and has a command of ``kind``,
    with the check it did better in."""
    found = []
    for result in run["checks"]:
        condition = result.get("condition")
        if not condition:
            continue
        option = run["server"].get("options", {}).get(condition["option"], {})
        if kind in option.get("commands", {}):
            found.append(
                {
                    **condition,
                    "check": result["id"],
                    "title": result["title"],
                    "outcome": result["outcome"],
                    "default": result["default"]["outcome"],
                    "argv": list(option["commands"][kind]),
                }
            )
    return found


def _combined(default: list[str], options: list[dict[str, Any]]) -> tuple[list[str], list, list]:
    """The command with every option that can be combined, the options in it, and the rewrites
    left out (each named beside the command)."""
    base, added, included, left_out = list(default), [], [], []
    for option in options:
        extra = added_arguments(default, option["argv"])
        if extra is not None:
            added.extend(argument for argument in extra if argument not in added)
        elif base == default:
            base = option["argv"]
        else:
            left_out.append({**option, "situation": "its command rewrites the one above"})
            continue
        included.append(option)
    return [*base, *added], included, left_out


def _command(run: dict[str, Any], kind: str, check_ids: tuple[str, ...]) -> Command | None:
    commands = run["server"]["commands"]
    if kind not in commands:
        return None
    results = {result["id"]: result for result in run["checks"]}
    better = _better_options(run, kind)
    situational = [
        {**option, "situation": SITUATIONAL_CHECKS[option["check"]]}
        for option in better
        if option["check"] in SITUATIONAL_CHECKS
    ]
    general = [option for option in better if option["check"] not in SITUATIONAL_CHECKS]
    argv, included, left_out = _combined(list(commands[kind]), general)
    backed_by = [
        Backing(
            check_id,
            results[check_id]["title"],
            results[check_id]["outcome"],
            results[check_id].get("condition"),
        )
        for check_id in check_ids
        if check_id in results
    ]
    return Command(
        _filled(argv, run["provenance"]),
        [_shown(option) for option in included],
        backed_by,
        run["provenance"].get("sizing"),
        [_shown(option) for option in [*left_out, *situational]],
    )


def _shown(option: dict[str, Any]) -> dict[str, Any]:
    """An option as the page lists it (its command is shown through the combined argv)."""
    return {key: value for key, value in option.items() if key != "argv"}


def production_command(run: dict[str, Any]) -> Command | None:
    """The plain HTTP/1.1 command (the one behind a proxy) with every option that made a
    production check pass; None for a development server."""
    if run["server"]["mode"] != "production":
        return None
    # Day-two operations are measured on this command too: each backs it like the first-day ones.
    operations = tuple(r["id"] for r in run["checks"] if r.get("group") == OPERATIONS_GROUP)
    return _command(run, "http", PRODUCTION_CHECKS + operations)


def tls_command(run: dict[str, Any]) -> Command | None:
    """The command that terminates TLS itself, when the TLS check (or HTTP/2 over TLS) said
    yes: HTTP/2's command when HTTP/2 was negotiated, else the TLS one."""
    results = {result["id"]: result for result in run["checks"]}
    for check_id, kind in (("http2-tls", "http2_tls"), ("tls", "tls")):
        if results.get(check_id, {}).get("outcome") == "yes":
            return _command(run, kind, (check_id,))
    return None


def development_command(run: dict[str, Any]) -> Command | None:
    """The server's code-reload command, where it declares one (no production sizing to
    scale: it is for one developer's machine)."""
    command = _command(run, "reload", DEVELOPMENT_CHECKS)
    return replace(command, sizing=None) if command else None
