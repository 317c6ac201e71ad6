"""What a slow-upstream configuration can answer at most, and the rates a rendered page publishes
for it, for the tests that hold every published rate to that bound (test_pages_match_data.py
on SYNTHETIC data, test_committed_data.py on data/).

The bound is physics, not a timing threshold. A configuration that serves C requests at once
(workers x threads), each holding its thread for at least s seconds (the longest upstream call:
the three run in parallel), finishes at most C answers every s seconds; in a window of T
seconds at most C x (T / s + 1) answers can arrive, the + 1 being the request each slot had
started before the window opened. So a rate over T is at most C / s + C / T. Where several
windows apply (a step after its ramp, the whole run), the shortest gives the loosest bound,
which is the one used: it can only let a wrong figure through, never fail a right one.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from generators.benchmarks.reproductions import article_for
from harness.definitions import VARIANT_PREFIX, ServerDefinition

# What the pages write beside a rate that holds the queue drained after the last step.
DRAIN_LABEL = "includes the queue drained after the last step"
STEP_RATES_CAPTION = "Answered requests per second"
LEADING_NUMBER = re.compile(r"^\s*(\d[\d,]*(?:\.\d+)?)")
SERVER_LINK = re.compile(r"\]\(\.\./servers/([a-z0-9-]+)\.md\)(?:\s*\((.+)\))?")


def plain(text: str) -> str:
    """Markdown-escaped, HTML-escaped page text as a reader sees it."""
    return re.sub(r"\\(.)", r"\1", html.unescape(text))


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str  # the paragraph right after the table


def tables(page: str) -> list[Table]:
    """Every Markdown table of a page, with the paragraph that follows it."""
    found: list[Table] = []
    lines = page.splitlines()
    index = 0
    while index < len(lines):
        if not lines[index].startswith("|"):
            index += 1
            continue
        block = []
        while index < len(lines) and lines[index].startswith("|"):
            block.append([cell.strip() for cell in lines[index].strip().strip("|").split(" | ")])
            index += 1
        while index < len(lines) and not lines[index].strip():
            index += 1
        caption = lines[index] if index < len(lines) else ""
        found.append(Table(block[0], block[2:], caption))
    return found


def leading_number(cell: str) -> float | None:
    match = LEADING_NUMBER.match(cell)
    return float(match.group(1).replace(",", "")) if match else None


@dataclass(frozen=True)
class Bound:
    """What one figure of a configuration can answer per second, at most."""

    requests_at_once: int
    floor_s: float
    shortest_window_s: float

    @property
    def per_s(self) -> float:
        return self.requests_at_once / self.floor_s + self.requests_at_once / self.shortest_window_s


def upstream_bound(
    figure: dict[str, Any], definitions: dict[str, ServerDefinition] | None = None
) -> Bound | None:
    """The bound of a slow-upstream figure: from what it records (``requests_at_once``,
    ``request_floor_ms``), or, for figures from before it recorded them, from its server's
    definition (the variant's threads, else the production pool, times its workers) and its
    upstream delays. None where nothing bounds it (an event loop, greenlets, a thread per
    request) or its server has no definition."""
    params = figure["params"]
    server = figure.get("server")
    capacity, floor_ms = params.get("requests_at_once"), params.get("request_floor_ms")
    if capacity is None and definitions is not None and server in definitions:
        variant = params.get("variant")
        definition = definitions[server]
        kind = f"{VARIANT_PREFIX}{variant}" if variant in definition.variants else "http"
        capacity = definition.requests_at_once(kind, params.get("workers") or 1)
    if floor_ms is None and params.get("upstream_delays_ms"):
        floor_ms = max(params["upstream_delays_ms"])
    if capacity is None or floor_ms is None:
        return None
    steps = params.get("steps") or []
    ramp_s = float(params.get("ramp_s") or 0.0)
    windows = [float(step["seconds"]) - ramp_s for step in steps]
    if not windows:
        return None
    return Bound(int(capacity), floor_ms / 1000, min(windows))


def row_configuration(table: Table, row: list[str], scenario: str) -> tuple[str, str] | None:
    """(server id, variant) a row of the slow-upstream page is about; None for a row of
    nobody in particular. The article's table names the article's label."""
    first = row[0]
    for article_row in article_for(scenario).rows:
        if plain(first) == article_row.label:
            return article_row.server, article_row.variant
    link = SERVER_LINK.search(first)
    if link is None:
        return None
    variant = plain(link.group(2) or "")
    if "Figure" in table.header:  # the totals: "upstream_threadpool, threads-2"
        name = plain(row[table.header.index("Figure")])
        variant = name.partition(", ")[2]
    return link.group(1), variant


def rate_cells(page: str, scenario: str) -> list[tuple[tuple[str, str], str, str]]:
    """((server, variant), column, cell) for every answered-rate cell of the page's tables:
    columns named answered/s, and the per-step table of answered requests per second."""
    found = []
    for table in tables(page):
        steps_table = table.caption.startswith(STEP_RATES_CAPTION)
        for row in table.rows:
            configuration = row_configuration(table, row, scenario)
            if configuration is None:
                continue
            for column, cell in zip(table.header, row, strict=False):
                rate_column = "answered/s" in column.lower() or (
                    steps_table and column.endswith("users")
                )
                if rate_column:
                    found.append((configuration, column, cell))
    return found


def unlabelled_rates_above_bounds(
    page: str, scenario: str, bounds: dict[tuple[str, str], Bound]
) -> list[str]:
    """Every rate the page publishes above its configuration's bound without saying it holds
    the queue drained after the last step; [] when the page respects every bound."""
    problems = []
    for configuration, column, cell in rate_cells(page, scenario):
        bound = bounds.get(configuration)
        value = leading_number(cell)
        if bound is None or value is None or value <= bound.per_s:
            continue
        if DRAIN_LABEL not in plain(cell):
            problems.append(
                f"{configuration} {column}: {value:g}/s above {bound.per_s:.2f}/s "
                f"({bound.requests_at_once} at once, each >= {bound.floor_s:g} s)"
            )
    return problems
