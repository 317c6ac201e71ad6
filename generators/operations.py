"""The day-two pages: one per Operations check, with its figures across configurations (one row
per configuration and per kind of work or setup the check tried), and an index with every
operation x configuration outcome.

Which figures a page shows is declared here once per check, each with its label and unit, read
from the run's evidence. Evidence is untrusted: a reader returns None for anything missing or of
the wrong type, and the page shows "not recorded" instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from generators.model import Site

GROUP = "Operations"
NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Figure:
    label: str
    read: Callable[[dict[str, Any]], Any]  # from one row's part of the evidence; None: absent
    unit: str = ""


@dataclass(frozen=True)
class Table:
    """How a check's evidence becomes rows: what one row stands for, the parts of the evidence
    (with their labels), and the figures read from each part."""

    row_title: str
    parts: Callable[[dict[str, Any]], list[tuple[str, dict[str, Any]]]]
    figures: tuple[Figure, ...]
    # Figures of the whole check rather than of a part (label -> text, None: not recorded).
    totals: Callable[[dict[str, Any]], dict[str, str | None]] = lambda evidence: {}


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _listed(evidence: dict[str, Any], key: str, label_key: str) -> list[tuple[str, dict]]:
    items = evidence.get(key)
    if not isinstance(items, list):
        return []
    return [(str(item.get(label_key, "?")), item) for item in items if isinstance(item, dict)]


def _whole(evidence: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [("", evidence)]


def _failed_of(part: dict[str, Any], phase: str, total: str = "requests") -> str | None:
    failed, requests = _get(part, phase, "failed"), _get(part, phase, total)
    if _number(failed) is None or _number(requests) is None:
        return None
    return f"{failed:g} failed of {requests:g}"


def _events(part: dict[str, Any]) -> str | None:
    events, expected = _number(_get(part, "events")), _number(_get(part, "events_expected"))
    return None if events is None or expected is None else f"{events:g} of {expected:g}"


def _seconds(value: Any) -> str | None:
    """Seconds as a reader takes them in: ms below one second."""
    if _number(value) is None:
        return None
    return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.2f} s"


def _bytes(value: Any) -> str | None:
    return None if _number(value) is None else f"{value / 2**20:.1f} MiB"


def _count(items: Any) -> int | None:
    return len(items) if isinstance(items, list) else None


def _mib(extent: Any, which: str) -> str | None:
    value = _number(_get(extent, which))
    return None if value is None else f"{value:.1f} MiB"


def _slope(fit: Any) -> str | None:
    """A slope with its 95 % interval, in MiB."""
    slope, low, high = (_number(_get(fit, key)) for key in ("slope", "low", "high"))
    if slope is None:
        return None
    interval = f" (95 %: {low:+.2f} to {high:+.2f})" if low is not None and high is not None else ""
    return f"{slope:+.2f} MiB{interval}"


# The live-load checks (worker-kill, worker-exit, graceful-reload, worker-recycling) share one
# evidence shape (harness/checks/operations/live_load.py): one row, the same figures.
LIVE_LOAD = Table(
    "Under a fixed rate",
    _whole,
    (
        Figure("Failed requests", lambda part: _failed_of(part, "figures", "due")),
        Figure("p99", lambda part: _number(_get(part, "figures", "p99_ms")), "ms"),
        Figure(
            "Back to full rate after",
            lambda part: _number(_get(part, "figures", "back_to_full_rate_after_s")),
            "s",
        ),
        Figure("Worker replaced", lambda part: _get(part, "replacement", "replaced")),
        Figure("The SSE stream", lambda part: _get(part, "held", "sse", "fate")),
        Figure("The WebSocket", lambda part: _get(part, "held", "websocket", "fate")),
    ),
)

TABLES: dict[str, Table] = {
    "worker-kill": LIVE_LOAD,
    "worker-exit": LIVE_LOAD,
    "graceful-reload": LIVE_LOAD,
    "worker-recycling": LIVE_LOAD,
    "client-disconnect": Table(
        "Abandoned work",
        lambda evidence: _listed(evidence, "scenarios", "title"),
        (
            Figure("What became of it", lambda part: _get(part, "verdict")),
            Figure("Decided by", lambda part: _get(part, "decided_by")),
            Figure(
                "Its finally block ran after the client left",
                lambda part: _number(_get(part, "seconds_after_leaving", "finally")),
                "s",
            ),
            Figure(
                "request_finished after the client left",
                lambda part: _number(_get(part, "seconds_after_leaving", "request_finished")),
                "s",
            ),
        ),
    ),
    "database-connections": Table(
        "Django database setting",
        lambda evidence: _listed(evidence, "setups", "label"),
        (
            Figure("Outcome", lambda part: _get(part, "outcome")),
            Figure("Peak connections", lambda part: _number(_get(part, "peak_connections"))),
            Figure("Bound", lambda part: _get(part, "bound_rule")),
            Figure(
                "Left per 100 requests",
                lambda part: _number(_get(part, "left_per_100_requests")),
            ),
            Figure("Failed under load", lambda part: _failed_of(part, "load")),
            Figure("Failed after the idle timeout", lambda part: _failed_of(part, "after_idle")),
        ),
    ),
    "long-work": Table(
        "Long piece",
        lambda evidence: [
            (title, evidence[key])
            for key, title in (("request", "the long request"), ("stream", "the long stream"))
            if isinstance(evidence.get(key), dict)
        ],
        (
            Figure("How it ended", lambda part: _get(part, "ended")),
            Figure("Ended after", lambda part: _number(_get(part, "ended_after_s")), "s"),
            Figure("Events", lambda part: _events(part)),
            Figure("The view's steps", lambda part: _number(_get(part, "view", "steps"))),
        ),
        lambda evidence: {
            "Short requests beside them": _failed_of(evidence, "short_requests", "sent"),
            "Slowest short request": _seconds(_get(evidence, "short_requests", "worst_latency_s")),
        },
    ),
    "memory-soak": Table(
        "Memory of all the server's processes",
        lambda evidence: [("PSS", evidence)] if isinstance(evidence.get("total"), dict) else [],
        (
            Figure("Trend", lambda part: _get(part, "trend")),
            Figure(
                "After the warm-up",
                lambda part: _mib(_get(part, "total", "pss_mib"), "after_warmup"),
            ),
            Figure("At the end", lambda part: _mib(_get(part, "total", "pss_mib"), "end")),
            Figure(
                "Slope per 10,000 requests",
                lambda part: _slope(_get(part, "total", "pss_slope_mib_per_10k")),
            ),
            Figure("Requests", lambda part: _failed_of(part, "requests", "due")),
        ),
    ),
    "static-files": Table(
        "Served by",
        lambda evidence: [
            ("the production setup", evidence),
            *(
                (str(variant.get("label", "?")), variant)
                for variant in evidence.get("variants") or []
                if isinstance(variant, dict)
            ),
        ],
        (
            Figure("Bytes right", lambda part: _get(part, "whole", "correct")),
            Figure("Range answered", lambda part: _get(part, "range", "status")),
            Figure("Django warned", lambda part: _get(part, "warned")),
            Figure("ms per file", lambda part: _number(_get(part, "cost", "static", "median_ms"))),
            Figure(
                "ms per tiny view", lambda part: _number(_get(part, "cost", "dynamic", "median_ms"))
            ),
        ),
    ),
    "large-upload": Table(
        "1 GiB upload",
        _whole,
        (
            Figure("Status", lambda part: _get(part, "upload", "status")),
            Figure("Bytes the view got", lambda part: _get(part, "answer", "file_bytes")),
            Figure("Memory growth", lambda part: _bytes(_get(part, "memory_growth_bytes"))),
            Figure(
                "View started after the first byte",
                lambda part: _number(_get(part, "seconds", "view_started_after_first_byte_s")),
                "s",
            ),
            Figure(
                "Answer after the last byte",
                lambda part: _number(_get(part, "seconds", "answer_after_last_byte_s")),
                "s",
            ),
            Figure("Temporary files left", lambda part: _count(_get(part, "temp_files_left"))),
        ),
    ),
    "behind-nginx": Table(
        "nginx configuration",
        lambda evidence: _listed(evidence, "configurations", "id"),
        (
            Figure("Server-sent events", lambda part: _get(part, "sse", "pace")),
            Figure("First event", lambda part: _number(_get(part, "sse", "first_event_s")), "s"),
            Figure("A silent stream", lambda part: _get(part, "idle_gap", "end")),
            Figure("nginx's proxy_read_timeout", lambda p: _number(_get(p, "read_timeout_s")), "s"),
            Figure("WebSocket", lambda part: _get(part, "websocket", "end")),
        ),
    ),
}


def shown_value(figure: Figure, part: dict[str, Any]) -> str:
    try:
        value = figure.read(part)
    except (TypeError, ValueError, AttributeError):
        value = None
    if value is None or value == "":
        return NOT_RECORDED
    if isinstance(value, bool):
        return "yes" if value else "no"
    if figure.unit == "s" and _number(value) is not None:
        return _seconds(value) or NOT_RECORDED
    if isinstance(value, float):
        value = f"{value:.3g}"
    return f"{value} {figure.unit}".strip()


def operation_checks(site: Site) -> list[dict[str, Any]]:
    """The catalog's Operations checks, in matrix order."""
    return [check for check in site.checks if check["group"] == GROUP]


def _result(run: dict[str, Any], check_id: str) -> dict[str, Any] | None:
    return next((result for result in run["checks"] if result["id"] == check_id), None)


def operation_page(site: Site, check: dict[str, Any]) -> dict[str, Any]:
    """One operation's page: per configuration, its outcome and, from its evidence, one row
    per part the check tried (without a declared table: the outcome and summary alone)."""
    table = TABLES.get(check["id"])
    configurations = []
    for run in site.runs:
        result = _result(run, check["id"])
        rows, totals = [], {}
        if result is not None and table is not None:
            evidence = result["evidence"] if isinstance(result["evidence"], dict) else {}
            rows = [
                {"part": label, "cells": [shown_value(f, part) for f in table.figures]}
                for label, part in table.parts(evidence)
            ]
            totals = {
                label: value or NOT_RECORDED for label, value in table.totals(evidence).items()
            }
        configurations.append({"run": run, "result": result, "rows": rows, "totals": totals})
    return {"check": check, "table": table, "configurations": configurations}


def operations_index(site: Site) -> dict[str, Any]:
    """Every operation x configuration outcome, for the index page."""
    checks = operation_checks(site)
    return {
        "checks": checks,
        "rows": [
            {"run": run, "results": [_result(run, check["id"]) for check in checks]}
            for run in site.runs
        ],
    }


def operation_navigation(site: Site) -> list[dict[str, str]]:
    """The Operations section of the navigation: the index, then one page per check."""
    return [
        {"All operations": "operations/index.md"},
        *({check["title"]: f"operations/{check['id']}.md"} for check in operation_checks(site)),
    ]
