"""Start a server as its own process group, wait until it answers, and always end it.

Every process the harness starts is registered here until it is gone. ``end_all`` kills what is
left, and is called on normal exit, on error and on Ctrl-C, so a run never leaves a server
behind.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

READY_POLL_INTERVAL_S = 0.1
END_POLL_INTERVAL_S = 0.01
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
        self, argv: list[str], cwd: Path, env: dict[str, str], log_path: Path, stop_signal: str
    ) -> None:
        self.argv, self.cwd, self.env = argv, cwd, env
        self.log_path = log_path
        self.stop_signal = stop_signal
        self._popen: subprocess.Popen[bytes] | None = None
        self._known: dict[int, psutil.Process] = {}

    @property
    def pid(self) -> int:
        assert self._popen is not None, "server not started"
        return self._popen.pid

    def start(self) -> None:
        if _closing.is_set():
            raise StartError("not started: the run is being stopped", "")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            try:
                self._popen = subprocess.Popen(
                    self.argv,
                    cwd=self.cwd,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: one kill ends all workers
                )
            except OSError as error:
                raise StartError(f"cannot execute {self.argv[0]!r}: {error}", "") from error
        _live.add(self)

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
                    raise StartError(
                        f"exited with code {code} before answering", log_tail(self.log_path)
                    )
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
    with subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as helper:
        _helper_groups.add(helper.pid)
        try:
            stdout, stderr = helper.communicate(timeout=timeout_s)
        except BaseException:  # a timeout, or Ctrl-C in this thread: end the whole group
            _kill_group(helper.pid)
            helper.communicate()
            raise
        finally:
            _helper_groups.discard(helper.pid)
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
