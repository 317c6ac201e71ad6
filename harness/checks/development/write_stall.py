"""The dev-write-stall check: does one client, sending requests one after another on a
keep-alive connection, get each small answer without a floor of tens of milliseconds?

Such a floor is the signature of Nagle's algorithm meeting delayed ACKs. A server that writes
one response in several small send() calls with Nagle's algorithm on (no TCP_NODELAY) sends
the first piece at once and holds the rest until the client acknowledges it; a client with
nothing to send delays that acknowledgement (at least 40 ms on Linux). Django's runserver
serves through wsgiref's ServerHandler on socketserver's unbuffered socket writer without
TCP_NODELAY, so the status line, Date, Server, the other headers and the body are separate
sends (django/core/servers/basehttp.py; Python's wsgiref/handlers.py and socketserver.py).

The check times the same requests with three clients: as a load tool's client is (Nagle on,
delayed ACKs), with TCP_NODELAY (its own Nagle off), and acknowledging every read at once
(TCP_QUICKACK, re-armed before each read, since Linux clears it). Only the server's Nagle is
undone by the client's immediate ACKs: the client's own Nagle cannot matter, as it sends each
request in one piece. Only development configurations are measured: their one-client
benchmark figures are the ones this explains, and the check takes a few seconds there.
"""

from __future__ import annotations

import socket
import statistics
import time
from typing import Any

from harness.checks import Check, CheckContext, Finding
from harness.checks.development._shared import GROUP
from harness.checks.hazards.raw_http import Address

PATH_ENDPOINT = "json_sync"  # the view of the one-client h2load figure
REQUESTS = 20  # per client setting, after the warm-up; the median decides
WARMUP = 2  # a new connection acknowledges at once for a while (Linux's quick-ACK mode)
STALL_MS = 30.0  # below a delayed ACK's 40 ms, far above a small answer on this machine
LIMIT_S = 5.0  # per request: a server that never answers ends the setting
READ_SIZE = 64 * 1024
MAX_KEPT_READS = 20

# How the client's socket is set for each timing, in the order they run.
CLIENT_SETTINGS = {
    "plain": "Nagle on, delayed ACKs (as a load tool's client)",
    "client-nodelay": "TCP_NODELAY on the client (its own Nagle off)",
    "client-quickack": "TCP_QUICKACK before every read (every read acknowledged at once)",
}
DIAGNOSES = ("none", "server-nagle", "other")

THRESHOLDS = (
    f"{REQUESTS} GET requests for the sample project's json_sync view, one after another on one "
    f"keep-alive connection (after {WARMUP} not counted), timed three times: with the client's "
    "socket as a load tool's is, with TCP_NODELAY on it, and with TCP_QUICKACK re-armed before "
    "each read so that every read is acknowledged at once; each response's reads are kept "
    "(size and time). Outcome: yes = the median request took less than "
    f"{STALL_MS:g} ms; no = {STALL_MS:g} ms or more. Diagnosis: server-nagle when the client's "
    "immediate ACKs bring the median under that (the server holds the rest of each response "
    "until the client's delayed ACK: Nagle's algorithm on its several small writes); other "
    "when they do not. Development configurations only; production ones are not applicable."
)


def _head_and_length(data: bytes) -> tuple[int, int | None] | None:
    """(header bytes, Content-Length) once the head of a response has arrived; None before."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    length = None
    for line in data[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return end + 4, length


def _read_response(sock: socket.socket, quickack: bool, began: float) -> list[dict[str, Any]]:
    """Read one Content-Length-framed response; each read's size and time (ms from ``began``)."""
    received = b""
    reads = []
    while True:
        if quickack:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        data = sock.recv(READ_SIZE)
        if not data:
            raise ConnectionError("the server closed the connection mid-response")
        received += data
        reads.append({"bytes": len(data), "at_ms": round((time.perf_counter() - began) * 1e3, 3)})
        framing = _head_and_length(received)
        if framing is None:
            continue
        head, length = framing
        if length is None:
            raise ConnectionError("the answer has no Content-Length, so keep-alive cannot hold")
        if len(received) >= head + length:
            return reads


def time_requests(target: Address, path: str, setting: str) -> dict[str, Any]:
    """Sequential keep-alive requests to ``path`` with the client set as ``setting`` says."""
    request = f"GET {path} HTTP/1.1\r\nHost: {target.host_header}\r\n\r\n".encode()
    durations: list[float] = []
    reads: list[dict[str, Any]] = []
    record: dict[str, Any] = {"setting": setting, "meaning": CLIENT_SETTINGS[setting]}
    try:
        with socket.create_connection((target.host, target.port), timeout=LIMIT_S) as sock:
            nodelay = setting == "client-nodelay"
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if nodelay else 0)
            for number in range(WARMUP + REQUESTS):
                began = time.perf_counter()
                sock.sendall(request)
                reads = _read_response(sock, setting == "client-quickack", began)
                if number >= WARMUP:
                    durations.append((time.perf_counter() - began) * 1e3)
    except OSError as error:  # a refused, reset or timed-out connection ends this setting
        record["error"] = f"{type(error).__name__}: {error}"[:300]
    record.update(
        requests=len(durations),
        durations_ms=[round(value, 3) for value in durations],
        median_ms=round(statistics.median(durations), 3) if durations else None,
        last_reads=reads[:MAX_KEPT_READS],
        last_read_count=len(reads),
    )
    return record


def measure(target: Address, path: str) -> dict[str, Any]:
    """Every client setting's timing, and the evidence's fixed fields."""
    return {
        "path": path,
        "requests": REQUESTS,
        "warmup": WARMUP,
        "stall_ms": STALL_MS,
        "settings": {setting: time_requests(target, path, setting) for setting in CLIENT_SETTINGS},
    }


def diagnose(evidence: dict[str, Any]) -> str | None:
    """none / server-nagle / other from the medians; None when a setting did not complete."""
    medians = {name: item["median_ms"] for name, item in evidence["settings"].items()}
    if any(value is None for value in medians.values()):
        return None
    if medians["plain"] < STALL_MS:
        return "none"
    return "server-nagle" if medians["client-quickack"] < STALL_MS else "other"


def judge(evidence: dict[str, Any]) -> tuple[str, str]:
    """(outcome, summary) from the measured evidence, which gains its ``diagnosis``."""
    diagnosis = diagnose(evidence)
    evidence["diagnosis"] = diagnosis
    settings = evidence["settings"]
    if diagnosis is None:
        failed = next(item for item in settings.values() if item["median_ms"] is None)
        return "error", f"No answer to time ({failed['meaning']}): {failed.get('error')}."
    plain, nodelay, quick = (settings[name] for name in CLIENT_SETTINGS)
    timings = (
        f"median {plain['median_ms']:.1f} ms per request for one keep-alive client, "
        f"{nodelay['median_ms']:.1f} ms with TCP_NODELAY on the client, "
        f"{quick['median_ms']:.1f} ms when the client acknowledges every read at once"
    )
    if diagnosis == "none":
        return "yes", f"No stall: {timings}."
    if diagnosis == "other":
        return "no", (
            f"A floor, but not a delayed-ACK stall: {timings}; immediate ACKs do not remove it."
        )
    return "no", (
        f"A delayed-ACK stall: {timings}.{_held_back(plain['last_reads'])} The server writes "
        "an answer in several small sends with Nagle's algorithm on, so all but the first wait "
        "for the client's delayed ACK; the client's own TCP_NODELAY does not help."
    )


def _held_back(reads: list[dict[str, Any]]) -> str:
    """How the last answer the plain client read arrived, when it came in several reads."""
    if len(reads) < 2:
        return ""
    first, second = reads[0], reads[1]
    return (
        f" Of the last answer, the first {first['bytes']} bytes arrived at once and the next "
        f"{second['at_ms'] - first['at_ms']:.1f} ms later."
    )


def run(context: CheckContext) -> Finding:
    if context.server.mode != "development":
        return Finding(
            "not-applicable",
            "Measured on development configurations only, whose one-client benchmark figures "
            "it explains.",
        )
    target = Address.of(context.shared.base_url)
    path = context.endpoints[PATH_ENDPOINT]
    evidence = {"instance": context.shared.describe(), **measure(target, path)}
    outcome, summary = judge(evidence)
    return Finding(outcome, summary, evidence)


CHECK = Check(
    timed=True,
    id="dev-write-stall",
    title="One client without a 40 ms stall",
    group=GROUP,
    question=(
        "Does one client, sending requests one after another on a keep-alive connection, get "
        "each small answer without a floor of tens of milliseconds (the 40 ms of a delayed ACK "
        "that a server's small writes wait for under Nagle's algorithm)?"
    ),
    thresholds=THRESHOLDS,
    run=run,
)
