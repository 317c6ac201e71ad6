"""Start a server as its own process group, wait until it answers, and always end it.

Every process the harness starts is registered here until it is gone. ``end_all`` kills what is
left, and is called on normal exit, on error and on Ctrl-C, so a run never leaves a server
behind. Each is also written down in ``process_registry`` (and marked in its environment), so
that a capture killed with SIGKILL, which runs none of this, leaves records that the next
capture ends (``leftovers``). A server that leaves its process group (``setsid``) is found by
that marker and by its port, and ended too.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from harness.interrupts import interrupts_held
from harness.process_registry import (
    OWNER_VARIABLE,
    create_time,
    forget,
    marked_env,
    new_marker,
    record_process,
)

READY_POLL_INTERVAL_S = 0.1
END_POLL_INTERVAL_S = 0.01
# How long a command that exited with code 0 before answering is watched for a server it
# left listening on its port (a daemon that dropped the harness's environment marker).
DETACH_GRACE_S = 5.0
LOG_TAIL_LINES = 40
LOG_TAIL_CHARS = 6000

_live: set[ServerProcess] = set()
# Set by end_all: once a run is being torn down, nothing new may start (a worker thread that
# was between steps when Ctrl-C came would otherwise start a server after the cleanup).
_closing = threading.Event()


class StartError(Exception):
    """The server did not become ready; the message says why, ``log_tail`` shows its log."""

    def __init__(self, reason: str, log_tail: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.log_tail = log_tail


@dataclass(frozen=True)
class Shutdown:
    signal: str | None  # None: the server had already exited, so none was sent
    exited_after_s: float | None
    forced: bool
    exit_code: int | None

    def as_record(self) -> dict[str, object]:
        return {
            "signal": self.signal,
            "exited_after_s": self.exited_after_s,
            "forced": self.forced,
            "exit_code": self.exit_code,
        }


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    tail = "\n".join(text.splitlines()[-lines:])
    return tail[-LOG_TAIL_CHARS:]


# Lines of a log that say why a program stopped: PostgreSQL's "could not bind ... Address
# already in use" (logged at LOG level, before its FATAL), nginx's "[emerg] bind() ... failed".
CAUSE_LINE = re.compile(
    r"fatal|error|emerg|crit|panic|could not|cannot|can't|failed|denied|in use|no such", re.I
)
CAUSE_LINES = 3
CAUSE_CHARS = 600


def log_cause(tail: str) -> str:
    """The lines of a log tail that say why: the first such line (usually the root cause) and
    the last ones, joined; empty when none does."""
    found = [line.strip() for line in tail.splitlines() if CAUSE_LINE.search(line)]
    chosen = list(dict.fromkeys([*found[:1], *found[-(CAUSE_LINES - 1) :]]))
    return " | ".join(chosen)[-CAUSE_CHARS:]


def with_cause(reason: str, tail: str) -> str:
    """``reason``, followed by what the log says about it."""
    cause = log_cause(tail)
    return f"{reason}: {cause}" if cause else f"{reason} (its log says nothing more)"


def _reaches(listening_ip: str, host: str) -> bool:
    """Whether a socket listening on ``listening_ip`` can answer a client connecting to
    ``host``: the same address, or a wildcard (IPv6's is dual-stack on Linux by default)."""
    return listening_ip in (host, "0.0.0.0", "::", f"::ffff:{host}")  # noqa: S104


def listeners(port: int, host: str = "127.0.0.1") -> list[int | None]:
    """The processes listening on TCP ``port`` where a client of ``host`` can reach them (None
    where the kernel does not tell whose)."""
    return [
        connection.pid
        for connection in psutil.net_connections(kind="tcp")
        if connection.status == psutil.CONN_LISTEN
        and connection.laddr.port == port
        and _reaches(connection.laddr.ip, host)
    ]


def describe_pid(pid: int | None) -> str:
    if pid is None:
        return "a process of another user"
    try:
        process = psutil.Process(pid)
        return f"pid {pid} ({' '.join(process.cmdline())[:120] or process.name()})"
    except psutil.Error:
        return f"pid {pid}"


class ServerProcess:
    """One server process (and everything it forks), logging to ``log_path``."""

    def __init__(
        self,
        argv: list[str],
        cwd: Path,
        env: dict[str, str],
        log_path: Path,
        stop_signal: str,
        *,
        kind: str = "server",
        port: int | None = None,
    ) -> None:
        self.argv, self.cwd, self.env = argv, cwd, env
        self.log_path = log_path
        self.stop_signal = stop_signal
        self.kind = kind  # what it is, in the registry and in what a later capture says
        self.port = port  # where it listens, to find it if it leaves its process group
        self._popen: subprocess.Popen[bytes] | None = None
        self._known: dict[int, psutil.Process] = {}
        self._marker = ""
        self._record: Path | None = None
        self._created: float | None = None
        # Processes that had left the process group and were ended by ``kill`` (described).
        self.detached: list[str] = []

    @property
    def pid(self) -> int:
        assert self._popen is not None, "server not started"
        return self._popen.pid

    def start(self) -> None:
        if _closing.is_set():
            raise StartError("not started: the run is being stopped", "")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._marker = new_marker()
        # Held until the server is in ``_live`` and the registry: a Ctrl-C in between would
        # leave it running and known to nobody.
        with self.log_path.open("ab") as log, interrupts_held():
            try:
                self._popen = subprocess.Popen(
                    self.argv,
                    cwd=self.cwd,
                    env=marked_env(self.env, self._marker),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: one kill ends all workers
                )
            except OSError as error:
                raise StartError(f"cannot execute {self.argv[0]!r}: {error}", "") from error
            _live.add(self)
            self._created = create_time(self._popen.pid)
            self._record = record_process(
                self._popen.pid,
                self.kind,
                self.argv,
                self._marker,
                port=self.port,
                scratch=self.log_path.parent,
            )

    def exit_code(self) -> int | None:
        return None if self._popen is None else self._popen.poll()

    def remember_descendants(self) -> None:
        """Note the current process tree, to end workers that leave the process group."""
        try:
            root = psutil.Process(self.pid)
            for process in [root, *root.children(recursive=True)]:
                self._known[process.pid] = process
        except psutil.Error:
            pass

    def tree_pids(self) -> set[int]:
        """This server's process and every process it forked, now."""
        try:
            root = psutil.Process(self.pid)
            return {root.pid, *(child.pid for child in root.children(recursive=True))}
        except psutil.Error:
            return set()

    def check_port_is_ours(self, port: int, host: str = "127.0.0.1") -> None:
        """StartError when a process outside this server's tree listens on ``port``: what
        answered may not have been this server (a port clash, or a second server sharing the
        port with SO_REUSEPORT), so nothing measured there could be trusted."""
        foreign = sorted(
            (pid for pid in listeners(port, host) if pid not in self.tree_pids()),
            key=lambda pid: -1 if pid is None else pid,
        )
        if foreign:
            raise StartError(
                f"port {port} is also listened on by {', '.join(describe_pid(p) for p in foreign)}"
                ", which is not this server: a port clash, so nothing is measured",
                log_tail(self.log_path),
            )

    def wait_ready(self, url: str, timeout_s: float, client: httpx.Client | None = None) -> float:
        """Seconds from start until ``url`` answered 200; StartError if it exits or times out,
        or if another process listens on its port too."""
        started = time.monotonic()
        last_problem = "no answer yet"
        owned = client is None
        client = client or httpx.Client(timeout=2.0)
        try:
            while time.monotonic() - started < timeout_s:
                code = self.exit_code()
                if code is not None:
                    raise self._exit_error(code)
                try:
                    response = client.get(url)
                except httpx.HTTPError as error:
                    last_problem = f"{type(error).__name__}: {error}"
                else:
                    if response.status_code == 200:
                        target = httpx.URL(url)
                        self.check_port_is_ours(target.port or 80, target.host)
                        self.remember_descendants()
                        # Until the answer arrived: a server that listens before its app is
                        # loaded (Gunicorn's master, uWSGI) holds this first request meanwhile.
                        return time.monotonic() - started
                    last_problem = f"answered {response.status_code}"
                time.sleep(READY_POLL_INTERVAL_S)
        finally:
            if owned:
                client.close()
        raise StartError(
            f"not ready within {timeout_s:.0f} s (last: {last_problem})", log_tail(self.log_path)
        )

    def _exit_error(self, code: int) -> StartError:
        """Why the command exited before answering; if it left processes running outside its
        group (it detached), those are ended and the error says so."""
        tail = log_tail(self.log_path)
        strays = self.left_behind()
        if not strays and code == 0 and self.port is not None:
            # A server never ends with success before answering, unless it daemonised: one
            # that also dropped its environment (and so the marker) is found once it listens.
            deadline = time.monotonic() + DETACH_GRACE_S
            while not strays and time.monotonic() < deadline:
                time.sleep(READY_POLL_INTERVAL_S)
                strays = self.left_behind()
        if not strays:
            return StartError(with_cause(f"exited with code {code} before answering", tail), tail)
        listening = self.port is not None and any(
            pid in {p.pid for p in strays} for pid in listeners(self.port)
        )
        described = ", ".join(describe_pid(process.pid) for process in strays)
        self._end(strays)
        where = f", listening on port {self.port}" if listening else ""
        return StartError(
            f"the command exited with code {code} but left {described} running outside its "
            f"process group{where}: it detached (e.g. with setsid), so the harness could "
            "neither stop nor measure it; the harness ended it. A server must stay in the "
            "foreground",
            tail,
        )

    def left_behind(self) -> list[psutil.Process]:
        """Processes of this server running outside its process group's reach: those carrying
        its marker in their environment, and those listening on its port that were created
        after it and are not children of this harness (a server that detached with setsid).
        Members of its group are not: ``kill`` ends them with the group."""
        if not self._marker or self._popen is None:
            return []
        found: dict[int, psutil.Process] = {}
        for process in psutil.process_iter(["status"]):
            try:
                if process.info["status"] == psutil.STATUS_ZOMBIE:
                    continue
                if process.environ().get(OWNER_VARIABLE) == self._marker:
                    found[process.pid] = process
            except psutil.Error:
                continue
        for pid in listeners(self.port) if self.port else []:
            if pid is None or pid in found:
                continue
            try:
                process = psutil.Process(pid)
                mine = os.getpid() in {parent.pid for parent in process.parents()}
                if (
                    not mine
                    and self._created is not None
                    and (process.create_time() >= self._created)
                ):
                    found[pid] = process
            except psutil.Error:
                continue
        return [process for process in found.values() if not self._in_group(process)]

    def _in_group(self, process: psutil.Process) -> bool:
        try:
            return os.getpgid(process.pid) == self.pid
        except OSError:
            return True  # gone meanwhile: nothing to end

    @staticmethod
    def _end(processes: list[psutil.Process]) -> None:
        for process in processes:
            with contextlib.suppress(psutil.Error):
                process.kill()
        wait_ended(processes, timeout_s=5)

    def stop(self, grace_s: float = 10.0) -> Shutdown:
        """Ask politely with the server's documented stop signal, then kill the whole group."""
        if self._popen is None:
            return Shutdown(self.stop_signal, None, forced=False, exit_code=None)
        if self._popen.poll() is not None:  # crashed earlier: no signal is sent
            self.kill()  # its workers may outlive it
            return Shutdown(None, None, forced=False, exit_code=self._popen.returncode)
        self.remember_descendants()
        started = time.monotonic()
        forced = False
        exited_after: float | None = None
        if self._popen.poll() is None:
            try:
                self._popen.send_signal(getattr(signal, self.stop_signal))
                self._popen.wait(timeout=grace_s)
                exited_after = time.monotonic() - started
            except subprocess.TimeoutExpired:
                forced = True
        self.kill()
        return Shutdown(self.stop_signal, exited_after, forced, self._popen.returncode)

    def kill(self) -> None:
        """SIGKILL the process group and every process ever seen in the tree."""
        if self._popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signal.SIGKILL)
        for process in self._known.values():
            with contextlib.suppress(psutil.Error):
                process.kill()  # psutil checks the pid was not reused
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(timeout=10)
        wait_ended(list(self._known.values()), timeout_s=5)
        strays = self.left_behind()
        if strays:
            self.detached += [describe_pid(process.pid) for process in strays]
            self._end(strays)
        forget(self._record)
        self._record = None
        _live.discard(self)


def wait_ended(processes: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Wait until every process has exited; returns those still running at the timeout.

    A zombie has ended (its memory and sockets are gone): only its parent's reaping is left,
    and a killed server's workers are orphans whose new parent, init, may reap them a second
    or more later on some machines. ``psutil.wait_procs`` would wait for that reaping."""
    deadline = time.monotonic() + timeout_s
    while True:
        running = [process for process in processes if _running(process)]
        if not running or time.monotonic() >= deadline:
            return running
        time.sleep(END_POLL_INTERVAL_S)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class Refused(Exception):
    """Nothing new starts once the run is being stopped."""


# Process groups of helper commands (environment installs) running now.
_helper_groups: set[int] = set()


def run_helper(argv: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    """Run a helper command (an installer) in its own process group, so that ``end_all`` can end
    it with everything it started (uv, the compilers it runs) on Ctrl-C; a helper that outlives
    its timeout is killed the same way. Refused once the run is being stopped."""
    if _closing.is_set():
        raise Refused("not started: the run is being stopped")
    marker = new_marker()
    helper: subprocess.Popen[str] | None = None
    record: Path | None = None
    try:
        with interrupts_held():  # recorded before a Ctrl-C can leave it unknown
            helper = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
                env=marked_env(None, marker),
            )
            _helper_groups.add(helper.pid)
            record = record_process(helper.pid, "installer", argv, marker)
        stdout, stderr = helper.communicate(timeout=timeout_s)
    except BaseException:  # a timeout, or Ctrl-C in this thread: end the whole group
        if helper is not None:
            _kill_group(helper.pid)
            helper.communicate()
        raise
    finally:
        if helper is not None:
            _helper_groups.discard(helper.pid)
        if record is not None:
            forget(record)
    return subprocess.CompletedProcess(argv, helper.returncode, stdout, stderr)


def _kill_group(group: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


def end_all(refuse_new: bool = True) -> None:
    """Kill every server and helper still running and (by default) refuse new ones from now
    on; safe to call more than once."""
    if refuse_new:
        _closing.set()
    for group in list(_helper_groups):
        _kill_group(group)
    for process in list(_live):
        process.kill()


atexit.register(end_all)
