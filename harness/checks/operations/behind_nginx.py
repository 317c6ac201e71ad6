"""The behind-nginx check: do server-sent events and WebSockets work through nginx, first with a
stock proxy configuration, then with the settings nginx's and the servers' docs give for streams?

Most Django sites run behind nginx, and nginx's defaults break streams in known ways: it buffers
a response (``proxy_buffering on``) unless the response says ``X-Accel-Buffering: no``, speaks
HTTP/1.0 to the server and drops the client's ``Upgrade`` header (hop-by-hop), so no WebSocket
opens, and ends a response after 60 s without a byte from the server (``proxy_read_timeout``).
The two configurations are data, ``nginx_configurations.toml``, which the site prints verbatim.

Through each, on the configuration's shared instance: a paced stream (events at their pace, or
all at the end?), a stream with one silence longer than the stock read timeout and shorter than
the documented one (kept or cut?), and a WebSocket echo (under ASGI). The stock configuration's
failures are nginx's defaults, recorded and shown, never counted against the server; the verdict
is the documented configuration's.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from harness.benchmarks.nginx import NginxUnavailable, nginx_version, started_nginx
from harness.checks import Check, CheckContext, Finding
from harness.checks.hazards._shared import address
from harness.checks.hazards.raw_http import Address
from harness.checks.hazards.smuggling_nginx import new_log_lines
from harness.checks.operations._shared import GROUP
from harness.checks.operations.nginx_configurations import (
    DOCUMENTED,
    STOCK,
    ProxyConfiguration,
    load_configurations,
)
from harness.checks.streaming.sse import read_events
from harness.checks.streaming.timing import SSE_EVENTS, SSE_INTERVAL_S, SSE_SPAN_S, timing_rule
from harness.checks.streaming.timing import classify_arrivals as classify_pace
from harness.checks.websocket import MESSAGE_COUNT, echo_exchange, websocket_path
from harness.endpoints import sse_idiom
from harness.network import HOST
from harness.process import StartError

CONFIGURATIONS = load_configurations()
STOCK_TIMEOUT_S = CONFIGURATIONS[STOCK].read_timeout_s  # stands for nginx's default of 60 s
DOCUMENTED_TIMEOUT_S = CONFIGURATIONS[DOCUMENTED].read_timeout_s
NGINX_DEFAULT_READ_TIMEOUT_S = 60  # nginx's docs, proxy_read_timeout
STANDS_FOR = f", standing for nginx's default of {NGINX_DEFAULT_READ_TIMEOUT_S} s"
# The silent stream: two events this far apart, longer than the stock read timeout (so stock
# nginx cuts it, as it would cut a minute's silence at its default) and shorter than the
# documented one (so the documented settings must keep it).
IDLE_GAP_S = 4.0
if not STOCK_TIMEOUT_S < IDLE_GAP_S < DOCUMENTED_TIMEOUT_S:
    raise ValueError(
        f"IDLE_GAP_S ({IDLE_GAP_S:g} s) must lie between the stock ({STOCK_TIMEOUT_S:g} s) and "
        f"documented ({DOCUMENTED_TIMEOUT_S:g} s) proxy_read_timeout of nginx_configurations.toml"
    )
GAP_EVENTS = 2
STREAM_LIMIT_S = IDLE_GAP_S + 10.0  # a whole read, headers included
HEADER_PROBE_S = 5.0
NGINX_FOLDER = "behind-nginx"  # in the launcher's scratch folder, one folder per configuration
# nginx's info line for every client connection that ends normally: not a reason for anything.
ROUTINE_LOG_ENDING = "closed keepalive connection"
ACCEL_HEADER = "X-Accel-Buffering"  # nginx hides it from clients: read from the server itself
# What a stream through one configuration did (the evidence schema's enums are these).
PACES = ("live", "buffered", "irregular", "incomplete", "failed")
GAP_ENDS = ("kept", "cut", "failed")
WEBSOCKET_ENDS = ("echoed", "refused", "failed", "not-applicable")

THRESHOLDS = (
    "nginx (one worker, the harness's scratch folder) in front of the shared instance, twice: "
    "a stock configuration (one proxy_pass, nginx's defaults: HTTP/1.0 to the server, no "
    "Upgrade header passed on, proxy_buffering on) and one with the documented settings "
    "(proxy_http_version 1.1, the Upgrade and Connection headers with nginx's map, "
    "proxy_buffering off in the stream's location, a longer proxy_read_timeout); both are "
    "printed on the methodology page from the file the harness runs. Through each: "
    f"{SSE_EVENTS} events {SSE_INTERVAL_S:g} s apart from the interface's SSE idiom (a sync "
    "generator under WSGI, an async one under ASGI), timed per event on arrival. "
    f"{timing_rule('event', SSE_SPAN_S)} Then {GAP_EVENTS} events {IDLE_GAP_S:g} s apart: "
    f"kept when both arrive, cut when nginx ends the stream in the silence (proxy_read_timeout "
    f"{STOCK_TIMEOUT_S:g} s in the stock configuration, standing for nginx's default of "
    f"{NGINX_DEFAULT_READ_TIMEOUT_S} s, and {DOCUMENTED_TIMEOUT_S:g} s in the documented one). "
    f"Under ASGI, a WebSocket echo of {MESSAGE_COUNT} messages (not applicable under WSGI, "
    "which carries no WebSocket). The stock configuration's failures are nginx's defaults: "
    "shown as evidence, not counted. Outcome, from the documented configuration: yes = the "
    "events arrive live, the silent stream is kept and (ASGI) the WebSocket echoes; partial = "
    "they arrive, but irregularly, or the silent stream ends before nginx's timeout (the "
    "server needs more than the documented settings); no = the events are buffered, cut short "
    "or refused, or (ASGI) no WebSocket opens or echoes."
)


# --- one stream through nginx ----------------------------------------------------------------


def arrivals(record: dict[str, Any]) -> list[float]:
    return [event["at_s"] for event in record["events"]]


def pace_of(record: dict[str, Any]) -> str:
    """One of PACES for the paced stream's record."""
    if record["status"] != 200 or not record["events"]:
        return "failed"
    if record["events_received"] < SSE_EVENTS:
        return "incomplete"
    return classify_pace(arrivals(record), SSE_SPAN_S)


def gap_end_of(record: dict[str, Any]) -> str:
    """One of GAP_ENDS for the silent stream's record."""
    if record["status"] != 200 or not record["events"]:
        return "failed"
    return "kept" if record["events_received"] >= GAP_EVENTS else "cut"


def websocket_end_of(exchange: dict[str, Any] | None) -> str:
    """One of WEBSOCKET_ENDS for the echo exchange (None: not tried, under WSGI)."""
    if exchange is None:
        return "not-applicable"
    if exchange["refusal"] is not None:
        return "refused"
    sent = [item["message"] for item in exchange["sent"]]
    received = [item["message"] for item in exchange["received"]]
    return "echoed" if sent and received == sent else "failed"


def _stream_facts(record: dict[str, Any]) -> dict[str, Any]:
    """The read record (each event with its arrival and production time) with the arrivals
    alone in one list."""
    return {
        **record,
        "first_event_s": record["events"][0]["at_s"] if record["events"] else None,
        "arrivals_s": [round(value, 4) for value in arrivals(record)],
    }


async def _in_turn(jobs: list[Callable[[], Awaitable[Any]]], together: bool) -> list[Any]:
    if together:
        return list(await asyncio.gather(*(job() for job in jobs)))
    return [await job() for job in jobs]


def measure_through(
    configuration: ProxyConfiguration,
    scratch: Path,
    upstream: Address,
    paths: dict[str, str],
    together: bool,
) -> dict[str, Any]:
    """Start nginx with ``configuration`` in front of ``upstream`` and read the paced stream,
    the silent stream and (when ``paths`` has one) the WebSocket through it."""
    began = time.monotonic()
    with started_nginx(
        scratch / configuration.id,
        lambda directory, port: configuration.nginx_conf(directory, port, upstream),
    ) as nginx:
        base = f"http://{HOST}:{nginx.port}"
        tag = uuid.uuid4().hex[:8]
        paced_query = f"count={SSE_EVENTS}&interval={SSE_INTERVAL_S:g}&id=nginx-{tag}-paced"
        gap_query = f"count={GAP_EVENTS}&interval={IDLE_GAP_S:g}&id=nginx-{tag}-gap"
        jobs: list[Callable[[], Awaitable[Any]]] = [
            lambda: read_events(f"{base}{paths['sse']}?{paced_query}", STREAM_LIMIT_S),
            lambda: read_events(f"{base}{paths['sse']}?{gap_query}", STREAM_LIMIT_S),
        ]
        if "websocket" in paths:
            messages = [f"nginx-{i}-{secrets.token_hex(4)}" for i in range(MESSAGE_COUNT)]
            ws_url = f"ws://{HOST}:{nginx.port}{paths['websocket']}"
            jobs.append(lambda: echo_exchange(ws_url, messages))
        paced, gap, *exchange = asyncio.run(_in_turn(jobs, together))
        said, _ = new_log_lines(nginx.error_log, 0)
        log = [line for line in said if not line.endswith(ROUTINE_LOG_ENDING)]
        config_text = nginx.config_text
    websocket = exchange[0] if exchange else None
    return {
        "id": configuration.id,
        "title": configuration.title,
        "read_timeout_s": configuration.read_timeout_s,
        "config": config_text,
        "sse": {"query": paced_query, "pace": pace_of(paced), **_stream_facts(paced)},
        "idle_gap": {"query": gap_query, "end": gap_end_of(gap), **_stream_facts(gap)},
        "websocket": {"end": websocket_end_of(websocket), "exchange": websocket},
        "nginx_log": log[:10],
        "elapsed_s": round(time.monotonic() - began, 3),
    }


def accel_header(url: str) -> dict[str, Any]:
    """What the server's stream answers for X-Accel-Buffering, asked directly (nginx acts on
    the header and never passes it on)."""
    try:
        with httpx.stream("GET", url, timeout=HEADER_PROBE_S) as response:
            return {"status": response.status_code, "value": response.headers.get(ACCEL_HEADER)}
    except httpx.HTTPError as error:
        return {"status": None, "value": None, "error": f"{type(error).__name__}: {error}"[:300]}


# --- the verdict -----------------------------------------------------------------------------


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


def pace_words(stream: dict[str, Any]) -> str:
    pace = stream["pace"]
    times = stream["arrivals_s"]
    if pace == "failed":
        reason = stream["error"] or (
            f"HTTP {stream['status']}" if stream["status"] is not None else "no answer"
        )
        return f"no event ({reason})"
    if pace == "incomplete":
        ended = stream["error"] or "the stream ended early"
        return f"only {stream['events_received']} of {SSE_EVENTS} events ({ended})"
    if pace == "live":
        return f"event by event, the first after {times[0]:.2f} s, the last {times[-1]:.2f} s"
    if pace == "buffered":
        return f"buffered: all {SSE_EVENTS} events together after {times[-1]:.2f} s"
    return f"irregular: {SSE_EVENTS} events from {times[0]:.2f} s to {times[-1]:.2f} s"


def gap_words(gap: dict[str, Any], timeout_s: float, stands_for: str = "") -> str:
    silence = f"a {IDLE_GAP_S:g} s silence (proxy_read_timeout {timeout_s:g} s{stands_for})"
    if gap["end"] == "kept":
        return f"kept through {silence}"
    if gap["end"] == "cut":
        silent_for = gap["closed_s"] - gap["arrivals_s"][-1]
        return f"cut {_seconds(silent_for)} into {silence}"
    reason = gap["error"] or f"HTTP {gap['status']}"
    return f"the silent stream got no event ({reason})"


def websocket_words(websocket: dict[str, Any]) -> str:
    end, exchange = websocket["end"], websocket["exchange"]
    if end == "not-applicable":
        return "no WebSocket tried (WSGI carries none)"
    if end == "echoed":
        return f"the WebSocket echoed {MESSAGE_COUNT} messages"
    if end == "refused":
        return f"the WebSocket upgrade got HTTP {exchange['refusal']['status']}"
    return f"the WebSocket failed: {exchange['problem'] or 'echoes missing or changed'}"


def unbuffered_by(header: str | None, stock_pace: str, documented_pace: str) -> str | None:
    """Which setting let the events through unbuffered: the response's X-Accel-Buffering: no
    (it works even under stock nginx, where proxy_buffering is on), the documented
    configuration's proxy_buffering off (when the response does not say no), or None when
    neither configuration streamed live."""
    says_no = (header or "").strip().lower() == "no"
    if stock_pace == "live" and says_no:
        return ACCEL_HEADER
    if documented_pace == "live" and not says_no:
        return "proxy_buffering off"
    return None


def buffering_sentence(by: str | None, header: str | None) -> str:
    if by == ACCEL_HEADER:
        return (
            f"The view's {ACCEL_HEADER}: no did the work: stock nginx, which buffers by "
            "default, streamed it event by event too."
        )
    if by == "proxy_buffering off":
        sent = f"{ACCEL_HEADER}: {header}" if header else f"no {ACCEL_HEADER} header"
        return f"proxy_buffering off did the work (the response carries {sent})."
    return ""


def judge(
    interface: str, stock: dict[str, Any], documented: dict[str, Any], header: str | None
) -> tuple[str, str]:
    """(outcome, summary): the documented configuration's streams decide; the stock one's
    are described."""
    pace, gap = documented["sse"]["pace"], documented["idle_gap"]["end"]
    websocket = documented["websocket"]["end"]
    done = (
        f"With the documented settings, the events arrived {pace_words(documented['sse'])}; "
        f"the stream was {gap_words(documented['idle_gap'], DOCUMENTED_TIMEOUT_S)}; "
        f"{websocket_words(documented['websocket'])}."
    )
    stock_done = (
        f" Stock nginx (its defaults, not counted): the events arrived "
        f"{pace_words(stock['sse'])}; the stream was "
        f"{gap_words(stock['idle_gap'], STOCK_TIMEOUT_S, STANDS_FOR)}; "
        f"{websocket_words(stock['websocket'])}."
    )
    by = unbuffered_by(header, stock["sse"]["pace"], pace)
    text = f"{done}{stock_done} {buffering_sentence(by, header)}".strip()
    ws_broken = interface == "asgi" and websocket != "echoed"
    if pace in ("failed", "incomplete", "buffered") or gap == "failed" or ws_broken:
        causes = []
        if pace == "buffered":
            causes.append(
                "with proxy_buffering off nginx passes on each byte as it reads it, so the "
                "stream was held before nginx, by the server"
            )
        if ws_broken:
            causes.append("no WebSocket through the documented Upgrade settings")
        cause = f" Cause: {'; '.join(causes)}." if causes else ""
        return "no", f"{text}{cause}"
    if gap == "cut":
        return "partial", (
            f"{text} Cause: the stream ended in a {IDLE_GAP_S:g} s silence although nginx "
            f"waits {DOCUMENTED_TIMEOUT_S:g} s: it needs more than the documented settings."
        )
    if pace == "irregular":
        return "partial", f"{text} Cause: events neither one by one nor all at the end."
    return "yes", text


def _run(context: CheckContext) -> Finding:
    if context.launcher is None:
        return Finding("error", "Not measured: no launcher, so no scratch folder for nginx.")
    interface = context.server.interface
    idiom = sse_idiom(interface)
    paths = {"sse": context.endpoints[idiom.endpoint]}
    if interface == "asgi":
        paths["websocket"] = websocket_path(context)
    upstream = address(context)
    header = accel_header(context.url(idiom.endpoint, "count=1&interval=0&id=nginx-header"))
    capacity = context.capacity()
    together = capacity is None or capacity >= 2  # two streams at once hold two WSGI threads
    scratch = context.launcher.scratch / NGINX_FOLDER
    results = {}
    began = time.monotonic()
    try:
        for configuration in CONFIGURATIONS.values():
            results[configuration.id] = measure_through(
                configuration, scratch, upstream, paths, together
            )
    except (NginxUnavailable, StartError, OSError) as error:
        return Finding(
            "error",
            f"Not measured: nginx could not be run: {type(error).__name__}: {error}"[:500],
            {"measured": results},
        )
    outcome, summary = judge(interface, results[STOCK], results[DOCUMENTED], header["value"])
    evidence = {
        "instance": context.shared.describe(),
        "interface": interface,
        "idiom": idiom.as_record(),
        "nginx_version": nginx_version(),
        "idle_gap_s": IDLE_GAP_S,
        "nginx_default_read_timeout_s": NGINX_DEFAULT_READ_TIMEOUT_S,
        "streams_together": together,
        "accel_buffering_header": header,
        "unbuffered_by": unbuffered_by(
            header["value"], results[STOCK]["sse"]["pace"], results[DOCUMENTED]["sse"]["pace"]
        ),
        "configurations": list(results.values()),
        "elapsed_s": round(time.monotonic() - began, 3),
    }
    return Finding(outcome, summary, evidence)


CHECK = Check(
    timed=True,
    id="behind-nginx",
    title="Streams behind nginx",
    group=GROUP,
    question=(
        "Through nginx, stock and with the documented stream settings (HTTP/1.1, the Upgrade "
        "headers, proxy_buffering off, a longer proxy_read_timeout), do server-sent events "
        "arrive event by event, survive a silence, and do WebSockets open and echo?"
    ),
    thresholds=THRESHOLDS,
    run=_run,
)
