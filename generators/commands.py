"""The two commands a server page offers to copy: one for production and one for development,
assembled only from commands the checks ran, each with the check results that back it.

A documented option whose check outcome beat the default's (``condition`` on a presented
result) replaces the default command of its kind, so the production command of uWSGI carries
its graceful-stop hook only because the graceful-shutdown check was measured with it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
DEVELOPMENT_CHECKS = ("dev-code-reload", "dev-template-reload", "dev-static")
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


def _command(run: dict[str, Any], kind: str, check_ids: tuple[str, ...]) -> Command | None:
    commands = run["server"]["commands"]
    if kind not in commands:
        return None
    results = {result["id"]: result for result in run["checks"]}
    argv, included = commands[kind], []
    for result in results.values():
        condition = result.get("condition")
        if not condition:
            continue
        option = run["server"].get("options", {}).get(condition["option"], {})
        if kind in option.get("commands", {}):
            argv = option["commands"][kind]
            included.append(
                {
                    **condition,
                    "check": result["id"],
                    "title": result["title"],
                    "outcome": result["outcome"],
                    "default": result["default"]["outcome"],
                }
            )
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
        included,
        backed_by,
        run["provenance"].get("sizing"),
    )


def production_command(run: dict[str, Any]) -> Command | None:
    """The plain HTTP/1.1 command (the one behind a proxy) with every option that made a
    production check pass; None for a development server."""
    if run["server"]["mode"] != "production":
        return None
    return _command(run, "http", PRODUCTION_CHECKS)


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
