"""The account the workers of a server that refuses root run as.

Apache will not serve as root (it is built without -DBIG_SECURITY_HOLE) and mod_wsgi blocks
daemon processes from running as root, so mod_wsgi-express needs ``--user`` and ``--group``
when started by root. A definition passes them as ``{user}`` and ``{group}``. Started by
another user, the harness fills in that user's own account (mod_wsgi-express's default);
started by root, as on the project's machines, Debian's web-server account, ``www-data``.
That account must then read what the workers load and write what they write:

- the instance's scratch files (SQLite database, state directory, the server's own root) are
  handed to it before each start (``hand_over``);
- its Python: an interpreter under a directory it cannot enter (pyenv's default, ``/root``)
  is copied for that server's environment to the environments directory
  (``readable_interpreter``), made of hard links where the file system allows, so it costs no
  space. The copy's binary still finds libpython at its original path, which only the
  Apache parent, root, loads; the workers read the standard library from the copy.
- the environment and the project: ``unreachable_parts`` names a directory on their path
  that it cannot enter, for a start error that says so.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

from harness.definitions import ServerDefinition, placeholders_in

UNPRIVILEGED_USER = "www-data"  # Debian's web-server account (base-passwd), Apache's own
ACCOUNT_PLACEHOLDERS = frozenset({"user", "group"})
INTERPRETERS_DIR = ".interpreters"  # under the environments directory
_COPY_TIMEOUT_S = 600


class AccountError(Exception):
    """The account cannot be used (it does not exist, or cannot reach what it must load)."""


def runs_as_account(definition: ServerDefinition) -> bool:
    """Whether some command of the server names the account its workers run as."""
    return any(
        placeholders_in(argument) & ACCOUNT_PLACEHOLDERS
        for argv in definition.all_commands()
        for argument in argv
    )


def switches_account() -> bool:
    """Whether the workers run as another account than the harness (it runs as root)."""
    return os.geteuid() == 0


def worker_account() -> tuple[str, str]:
    """The (user, group) the workers run as: the harness's own, or www-data under root."""
    if not switches_account():
        entry = pwd.getpwuid(os.geteuid())
        return entry.pw_name, grp.getgrgid(entry.pw_gid).gr_name
    try:
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError as error:
        raise AccountError(
            f"there is no {UNPRIVILEGED_USER!r} account for the workers of a server that "
            "refuses root (Debian creates it with the base-passwd package)"
        ) from error
    return entry.pw_name, grp.getgrgid(entry.pw_gid).gr_name


def hand_over(directory: Path) -> None:
    """Give ``directory`` and everything in it to the worker account (root only)."""
    if not switches_account():
        return
    entry = pwd.getpwnam(worker_account()[0])
    for path in [directory, *directory.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def _enterable(directory: Path, uid: int, gid: int) -> bool:
    mode = directory.stat()
    if mode.st_uid == uid:
        return bool(mode.st_mode & stat.S_IXUSR)
    if mode.st_gid == gid:
        return bool(mode.st_mode & stat.S_IXGRP)
    return bool(mode.st_mode & stat.S_IXOTH)


def unreachable_parts(*paths: Path) -> list[Path]:
    """The first directory on the way to each of ``paths`` that the worker account cannot
    enter, by its owner, group and mode bits (ACLs and supplementary groups are not read, so
    a directory named here may still be reachable); empty when it is not another account."""
    if not switches_account():
        return []
    entry = pwd.getpwnam(worker_account()[0])
    blocked: list[Path] = []
    for path in paths:
        resolved = path.resolve()
        for directory in [*reversed(resolved.parents), resolved]:
            if directory.is_dir() and not _enterable(directory, entry.pw_uid, entry.pw_gid):
                if directory not in blocked:
                    blocked.append(directory)
                break
    return blocked


def base_prefix(python: str) -> Path:
    """The installation an interpreter (or a virtual environment's) belongs to."""
    completed = subprocess.run(
        [python, "-c", "import sys; print(sys.base_prefix)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return Path(completed.stdout.strip())


def readable_interpreter(python: str, environments_dir: Path) -> str:
    """``python``, or a copy of its installation under ``environments_dir`` when the worker
    account cannot enter a directory on the way to it; the copy is made once and kept."""
    if not switches_account():
        return python
    prefix = base_prefix(python)
    if not unreachable_parts(prefix):
        return python
    digest = hashlib.sha256(str(prefix).encode()).hexdigest()[:12]
    target = environments_dir / INTERPRETERS_DIR / f"{prefix.name}-{digest}"
    binary = f"python{_version_of(prefix)}"
    if not (target / "bin" / binary).exists():
        _copy_installation(prefix, target)
    for directory in (environments_dir, target.parent):
        directory.chmod(directory.stat().st_mode | stat.S_IXOTH | stat.S_IROTH)
    return str(target / "bin" / binary)


def _version_of(prefix: Path) -> str:
    """ "3.12" from the installation's lib/python3.12 directory."""
    found = sorted(path.name for path in (prefix / "lib").glob("python3.*") if path.is_dir())
    if not found:
        raise AccountError(f"{prefix} has no lib/python3.* directory to copy")
    return found[-1].removeprefix("python")


def _copy_installation(prefix: Path, target: Path) -> None:
    """Hard links when ``prefix`` is on the same file system, else a copy; written beside
    the target and renamed, so an interrupted copy is never taken for a whole one."""
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    linked = subprocess.run(
        ["cp", "-al", str(prefix), str(partial)],
        capture_output=True,
        text=True,
        check=False,
        timeout=_COPY_TIMEOUT_S,
    )
    if linked.returncode != 0:  # another file system: hard links cannot cross it
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(prefix, partial, symlinks=True)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
