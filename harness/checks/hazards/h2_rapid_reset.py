"""The http2-frames check's rapid-reset probe, as CVE-2023-44487 describes the attack: for
seconds on end, streams opened and reset at once, which the attacker gets for free while the
server starts (and abandons) a request per stream.

An attacker process (``rapid_reset_client.py``) does it on one connection after another for
``ATTACK_S``; meanwhile a second client asks for a page every ``PROBE_EVERY_S`` on a connection
of its own, and the server's process tree's CPU time is read before and after. The same second
client first measures the server unloaded, for ``BASELINE_S``, so its latency under attack has
something to be compared with.
"""

from __future__ import annotations

import json
import ssl
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from harness.benchmarks.cpu import tree_cpu_seconds
from harness.benchmarks.tool_process import Finished, run_tool
from harness.checks.hazards.h2_wire import (
    HEADERS,
    PATH,
    RST_STREAM,
    H2Connection,
    error_name,
)
from harness.launcher import Instance

ATTACKER = Path(__file__).with_name("rapid_reset_client.py")
ATTACK_S = 10.0
BASELINE_S = 2.0
PROBE_EVERY_S = 0.1
PROBE_TIMEOUT_S = 2.0  # a second-client request slower than this counts as failed
# The second client's latency is bounded when its p99 under attack is at most this many times
# its median before the attack, or LATENCY_FLOOR_MS, whichever is more (a 2 ms page may take
# 20 ms beside any busy process on a shared core without anything being wrong).
LATENCY_FACTOR = 10
LATENCY_FLOOR_MS = 100.0
# Reset codes with which a server refuses streams rather than serving them: a rate limit.
REFUSING_CODES = {0x7, 0xB}  # REFUSED_STREAM, ENHANCE_YOUR_CALM

RULE = (
    f"Rapid reset (CVE-2023-44487): for {ATTACK_S:g} s, one connection at a time opens streams "
    "and resets each at once (HEADERS then RST_STREAM), as fast as the server reads them, "
    "opening a new connection whenever the server closes one; meanwhile a second client asks "
    f"for GET {PATH} every {PROBE_EVERY_S * 1000:g} ms on its own connection (failed after "
    f"{PROBE_TIMEOUT_S:g} s), after {BASELINE_S:g} s of the same unloaded, and the server's CPU "
    "time is read. The rapid reset is bounded when the server closes the attacking connection "
    "(GOAWAY) or refuses its streams (REFUSED_STREAM, ENHANCE_YOUR_CALM) and the second "
    f"client's p99 stays within {LATENCY_FACTOR} times its unloaded median (or "
    f"{LATENCY_FLOOR_MS:g} ms) with no failure; the second client is starved when half its "
    "requests or more failed"
)


class SecondClient:
    """An ordinary client on a connection of its own, opened again when it breaks."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.connection: H2Connection | None = None
        self.latencies_ms: list[float] = []
        self.failures: list[str] = []

    def request(self) -> None:
        began = time.monotonic()
        try:
            if self.connection is None:
                self.connection = H2Connection.open(self.instance, PROBE_TIMEOUT_S)
            connection = self.connection
            stream_id, frame = connection.request_frame(PATH)
            connection.send(frame.serialize())
            statuses: list[str | None] = []

            def response(frame: Any) -> bool:
                if frame.type == HEADERS:
                    # Every header block is decoded, so the HPACK table stays in step.
                    status = connection.header_status(frame)
                    if frame.stream_id == stream_id:
                        statuses.append(status)
                        return True
                return frame.type == RST_STREAM and frame.stream_id == stream_id

            ended = connection.read_until(response, PROBE_TIMEOUT_S, [])
        except (OSError, ssl.SSLError) as error:
            ended, statuses = f"{type(error).__name__}", []
        if statuses == ["200"]:
            self.latencies_ms.append((time.monotonic() - began) * 1000)
            return
        self.failures.append(ended if ended != "done" else f"status {statuses}")
        self.close()

    def run_until(self, stop: threading.Event | None, seconds: float) -> None:
        """A request every PROBE_EVERY_S (or at once, after a slow one) for ``seconds`` or
        until ``stop`` is set."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
            began = time.monotonic()
            self.request()
            time.sleep(max(0.0, PROBE_EVERY_S - (time.monotonic() - began)))

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def summary(self) -> dict[str, Any]:
        latencies = sorted(self.latencies_ms)
        return {
            "requests": len(latencies) + len(self.failures),
            "failures": len(self.failures),
            "failure_kinds": sorted(set(self.failures)),
            "p50_ms": _rounded(statistics.median(latencies)) if latencies else None,
            "p99_ms": _rounded(_percentile(latencies, 99)) if latencies else None,
            "max_ms": _rounded(latencies[-1]) if latencies else None,
        }


def _percentile(ordered: list[float], percent: float) -> float:
    """The nearest-rank percentile of sorted values."""
    rank = max(1, -(-len(ordered) * percent // 100))
    return ordered[int(rank) - 1]


def _rounded(value: float) -> float:
    return round(value, 1)


def _cpu_seconds(pid: int) -> float | None:
    try:
        return tree_cpu_seconds(pid)
    except ProcessLookupError:
        return None


def _cpu_percent(before: float | None, after: float | None, seconds: float) -> float | None:
    if before is None or after is None or seconds <= 0:
        return None
    return round((after - before) / seconds * 100, 1)


def attacker_command(instance: Instance, seconds: float) -> list[str]:
    command = [sys.executable, str(ATTACKER), instance.base_url, PATH, f"{seconds:g}"]
    if instance.base_url.startswith("https:"):
        command.append(str(instance.tls.ca_file))
    return command


def rapid_reset(instance: Instance) -> dict[str, Any]:
    """The probe's record: the attack's own account, the second client before and during it,
    the server's CPU, and the verdict ("bounded", "unbounded", "starved") with its phrase."""
    pid = instance.process.pid
    client = SecondClient(instance)
    cpu_before = _cpu_seconds(pid)
    began = time.monotonic()
    client.run_until(None, BASELINE_S)
    baseline_s = time.monotonic() - began
    baseline_cpu = _cpu_percent(cpu_before, _cpu_seconds(pid), baseline_s)
    baseline = client.summary()

    during = SecondClient(instance)
    during.connection, client.connection = client.connection, None
    finished: list[Finished] = []
    done = threading.Event()

    def attacker() -> None:
        try:
            finished.append(run_tool(attacker_command(instance, ATTACK_S), ATTACK_S + 20))
        finally:
            done.set()

    thread = threading.Thread(target=attacker, name="rapid-reset-attacker", daemon=True)
    cpu_before = _cpu_seconds(pid)
    began = time.monotonic()
    thread.start()
    try:
        during.run_until(done, ATTACK_S + 20)
    finally:
        thread.join()
        client.close()
        during.close()
    attack_s = time.monotonic() - began
    record: dict[str, Any] = {
        "attack": _attack_account(finished[0] if finished else None),
        "baseline": baseline,
        "during": during.summary(),
        "baseline_cpu_percent": baseline_cpu,
        "server_cpu_percent": _cpu_percent(cpu_before, _cpu_seconds(pid), attack_s),
        "server_exit_code": instance.process.exit_code(),
    }
    record["verdict"], record["phrase"] = judge_rapid_reset(record)
    return record


def _attack_account(finished: Finished | None) -> dict[str, Any]:
    if finished is None:
        return {"problem": "the attacker did not run"}
    try:
        return json.loads(finished.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        problem = f"the attacker printed no result (exit {finished.exit_code})"
        return {"problem": problem, "stderr": finished.stderr[-2000:]}


def bounded_by(attack: dict[str, Any]) -> str | None:
    """How the server bounded the attack, in words, or None if it took every stream."""
    close = attack.get("first_close")
    if close:
        when = f"{close['after_s']:g} s in"
        last = close.get("last_stream_id")
        if close.get("goaway_code") is None:
            return f"closing the connection without GOAWAY {when}"
        took = (
            f", naming stream {last} ({(last + 1) // 2} streams) the last it took" if last else ""
        )
        return f"GOAWAY {error_name(close['goaway_code'])} {when}{took}"
    refused = {
        int(code): count
        for code, count in (attack.get("server_resets") or {}).items()
        if int(code) in REFUSING_CODES
    }
    if refused:
        return "refusing streams with " + ", ".join(
            f"{error_name(code)} ({count})" for code, count in sorted(refused.items())
        )
    return None


def allowed_ms(baseline: dict[str, Any]) -> float:
    median = baseline.get("p50_ms")
    return max(LATENCY_FLOOR_MS, LATENCY_FACTOR * median) if median else LATENCY_FLOOR_MS


def judge_rapid_reset(record: dict[str, Any]) -> tuple[str, str]:
    attack, during = record["attack"], record["during"]
    if "problem" in attack:
        return "error", f"rapid reset not measured: {attack['problem']}"
    bound = bounded_by(attack)
    limit_ms = allowed_ms(record["baseline"])
    cpu = record.get("server_cpu_percent")
    said = (
        f"rapid reset: {attack['streams']} streams opened and reset in {attack['seconds']:g} s "
        f"over {attack['connections']} connection(s)"
        + (f", the server at {cpu:g} % of a core" if cpu is not None else "")
        + f"; {('the server bounded it by ' + bound) if bound else 'the server took every one'}"
        + f"; a second client's p99 {during['p99_ms']} ms (unloaded median "
        f"{record['baseline']['p50_ms']} ms), {during['failures']} of {during['requests']} failed"
    )
    if during["requests"] == 0 or during["failures"] * 2 >= during["requests"]:
        return "starved", said
    latency_ok = during["failures"] == 0 and (during["p99_ms"] or 0) <= limit_ms
    if bound and latency_ok:
        return "bounded", said
    return "unbounded", said
