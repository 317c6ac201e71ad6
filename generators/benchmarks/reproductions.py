"""A source article's published table beside our measurement of the same configurations.

The articles' figures are quoted in ``generators/sources/*.toml`` (one file per article, with its
URL, machine and protocol); they are reference text, never evidence, and nothing of them reaches
``data/``. Which of our figures answers an article row is named there too (server and variant).
The sentences comparing the two are computed here from the data, so they change with it.
"""

from __future__ import annotations

import functools
import statistics
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generators.benchmarks.figure import Figure
from generators.benchmarks.per_cpu import (
    SATURATED_PERCENT,
    BusiestStep,
    busiest_server_cpu,
    counted_old_way,
    cpu_label,
)

SOURCES_DIR = Path(__file__).resolve().parent.parent / "sources"
ARTICLE_FIELDS = ("min_ms", "p95_ms", "average_ms", "max_rps")
# The article's finding we test: the small pool collapses, every other configuration copes.
# "Copes" is at least this many times the small pool's answered rate (the article: 30-47x).
COPES_FACTOR = 10
CPU_BOUND_PERCENT = 90  # a server tree above this share of its one core is limited by CPU
# The one source file that is not an article: the servers' own statements, read by
# generators/held_out.py.
NOT_ARTICLES = ("held_out.toml",)


class SourceError(Exception):
    """A source file that cannot be read, named with the field at fault."""


@dataclass(frozen=True)
class ArticleRow:
    label: str
    server: str
    variant: str  # "" = the server as defined
    figures: dict[str, float]  # ARTICLE_FIELDS


@dataclass(frozen=True)
class Article:
    scenario: str
    title: str
    author: str
    published: str
    url: str
    code: str
    machine: str
    protocol: str
    rows: tuple[ArticleRow, ...]  # per configuration (the slow-upstream article)
    # label (WSGI, ASGI) -> users -> failures % (the polls article)
    failures_by_users: dict[str, dict[int, float]]


@dataclass(frozen=True)
class ComparedRow:
    article: ArticleRow
    figure: Figure | None  # ours, None when this capture did not measure it


def _article(path: Path) -> Article:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        rows = tuple(
            ArticleRow(
                label=str(row["label"]),
                server=str(row["server"]),
                variant=str(row["variant"]),
                figures={name: float(row[name]) for name in ARTICLE_FIELDS},
            )
            for row in raw.get("rows", [])
        )
        failures = {
            str(label): {int(users): float(value) for users, value in steps.items()}
            for label, steps in raw.get("failures_by_users", {}).items()
        }
        texts = {
            name: str(raw[name])
            for name in Article.__dataclass_fields__
            if name not in ("rows", "failures_by_users")
        }
        return Article(**texts, rows=rows, failures_by_users=failures)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SourceError(f"{path}: {error}") from error
    except (KeyError, TypeError, ValueError) as error:
        raise SourceError(f"{path}: missing or malformed field {error}") from error


@functools.cache
def articles() -> dict[str, Article]:
    """scenario -> its source article."""
    found = [
        _article(path)
        for path in sorted(SOURCES_DIR.glob("*.toml"))
        if path.name not in NOT_ARTICLES
    ]
    return {article.scenario: article for article in found}


def article_for(scenario: str) -> Article | None:
    return articles().get(scenario)


def steady_name(figure: Figure, base: str) -> str | None:
    """The metric ``base`` of the figure's largest step (its steady state after the ramp)."""
    steps = figure.steps(base)
    return steps[max(steps)] if steps else None


def steady(figure: Figure | None, base: str) -> float | None:
    if figure is None or not figure.ok:
        return None
    name = steady_name(figure, base)
    return figure.metric(name) if name else None


def compared_rows(article: Article, figures: list[Figure]) -> list[ComparedRow]:
    """Each article row with our figure of the same configuration."""

    def ours(row: ArticleRow) -> Figure | None:
        for figure in figures:
            variant = str(figure.params.get("variant") or "")
            if figure.server["id"] == row.server and variant == row.variant:
                return figure
        return None

    return [ComparedRow(row, ours(row)) for row in article.rows]


def _rate_text(value: float) -> str:
    return f"{value:.3g}" if value < 10 else f"{value:.0f}"


def findings(rows: list[ComparedRow]) -> list[str]:
    """Where our measurement agrees with the article's finding and where it does not, each
    sentence with the figures behind it."""
    measured = [(row, steady(row.figure, "answered_per_s")) for row in rows]
    if not rows or any(rate is None for _, rate in measured):
        missing = [row.article.label for row, rate in measured if rate is None]
        return [f"Not compared: no successful figure here for {', '.join(missing)}."]
    slowest = min(rows, key=lambda row: row.article.figures["max_rps"])
    slow_rate = steady(slowest.figure, "answered_per_s")
    assert slow_rate is not None
    sentences = [
        f"The article's small pool ({slowest.article.label}) managed "
        f"{_rate_text(slowest.article.figures['max_rps'])} requests/s; here it answered "
        f"{_rate_text(slow_rate)} a second in the steady state, with a p95 of "
        f"{_seconds(steady(slowest.figure, 'latency_p95_ms'))} "
        f"(the article: {_seconds(slowest.article.figures['p95_ms'])}), "
        f"and {_percent(steady(slowest.figure, 'failures_percent'))} of its requests failed."
    ]
    for row, rate in measured:
        if row is slowest:
            continue
        assert rate is not None
        theirs = row.article.figures["max_rps"] / slowest.article.figures["max_rps"]
        ours = rate / slow_rate if slow_rate else float("inf")
        verdict = "agrees" if ours >= COPES_FACTOR else "differs"
        sentence = (
            f"{row.article.label}: {verdict} with the article. It answered "
            f"{_rate_text(rate)} requests/s here ({_times(ours)} the small pool; the article "
            f"{_times(theirs)})."
        )
        cpu = steady(row.figure, "server_cpu_percent")
        if verdict == "differs" and cpu is not None:
            if cpu >= CPU_BOUND_PERCENT:
                per_answer_ms = cpu / 100 / rate * 1000
                sentence += (
                    f" The server used {cpu:.0f} % of its core, about {per_answer_ms:.0f} ms of "
                    "CPU per answer: it is CPU-bound here, so more users only queue."
                )
            else:
                sentence += (
                    f" The server used {cpu:.0f} % of its core, so it is limited by its workers "
                    "or threads, not by the CPU."
                )
        sentences.append(sentence)
    return sentences


def _times(factor: float) -> str:
    return "∞×" if factor == float("inf") else f"{factor:.1f}×"


def _seconds(ms: float | None) -> str:
    return "n/a" if ms is None else (f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms:.0f} ms")


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} %"


def article_cell(row: ArticleRow, name: str) -> str:
    value = row.figures[name]
    return f"{value:g}"


def interface_failures(figures: list[Figure], users: list[int]) -> dict[str, dict[int, float]]:
    """The WSGI and ASGI rows computed from our figures: the median, over the configurations
    of each interface, of their failures % at each step (a configuration's own figure is the
    median of its runs). Steps a configuration did not run are left out of that median."""
    rows: dict[str, dict[int, float]] = {}
    for interface in ("wsgi", "asgi"):
        chosen = [f for f in figures if f.ok and f.server.get("interface") == interface]
        row = {}
        for count in users:
            values = sorted(
                value
                for figure in chosen
                if (name := figure.steps("failures_percent").get(count))
                and (value := figure.metric(name)) is not None
            )
            if values:
                row[count] = statistics.median(values)
        if row:
            rows[interface.upper()] = row
    return rows


FAILING_FROM_PERCENT = 1.0  # a step "fails" from this share of failed requests (the article's
# figures are whole percents)


def _first_failing(steps: dict[int, float]) -> str:
    failing = [count for count, share in sorted(steps.items()) if share >= FAILING_FROM_PERCENT]
    return f"from {failing[0]} users" if failing else f"never, up to {max(steps)} users"


def _peak(figures: list[Figure], base: str) -> float | None:
    values = [
        value
        for figure in figures
        for name in figure.steps(base).values()
        if (value := figure.metric(name)) is not None
    ]
    return max(values) if values else None


def server_errors(figures: list[Figure], top: int = 3) -> list[tuple[str, int]]:
    """The final exceptions the servers logged over these figures' runs (the harness reads
    each run's server log), most frequent first."""
    counts: dict[str, int] = {}
    for figure in figures:
        for repeat in figure.record.get("repeats", []):
            for item in repeat.get("server_errors") or []:
                counts[item["error"]] = counts.get(item["error"], 0) + item["count"]
    return sorted(counts.items(), key=lambda item: -item[1])[:top]


def polls_findings(article: Article, figures: list[Figure], users: list[int]) -> list[str]:
    """The polls article against our figures: when each interface starts failing, what the
    failures were, and what the servers were doing meanwhile; every number from the data."""
    ours = interface_failures(figures, users)
    if not ours:
        return []
    theirs = ", ".join(
        f"{label} {_first_failing(steps)}" for label, steps in article.failures_by_users.items()
    )
    here = ", ".join(f"{label} {_first_failing(steps)}" for label, steps in ours.items())
    sentences = [
        f"The article's stacks failed (1 % of requests or more): {theirs}. Here (the median "
        f"configuration of each interface): {here}."
    ]
    failing = [f for f in figures if f.ok and (_peak([f], "failures_percent") or 0) > 0]
    holding = [f for f in figures if f.ok and _peak([f], "failures_percent") == 0]
    messages: dict[str, int] = {}
    for figure in failing:
        for repeat in figure.record.get("repeats", []):
            for item in repeat.get("failure_messages") or []:
                messages[item["message"]] = messages.get(item["message"], 0) + item["count"]
    if failing:
        top = sorted(messages.items(), key=lambda item: -item[1])[:3]
        listed = "; ".join(f"{message} ({count:,})" for message, count in top)
        names = ", ".join(sorted(str(f.server["name"]) for f in failing))
        sentences.append(
            f"Configurations with failures: {names}. Their failures, by message: {listed}."
        )
        sentences += saturation_sentences(failing)
        connections = _peak(failing, "postgres_connections_peak")
        if connections is not None:
            calm = _peak(holding, "postgres_connections_peak")
            sentences.append(
                f"PostgreSQL held up to {connections:.0f} client connections at once under them "
                f"(its max_connections is 100)"
                + (f", against at most {calm:.0f} under the others." if calm is not None else ".")
            )
        logged = server_errors(failing)
        if logged:
            listed = "; ".join(f"“{error}” ({count:,})" for error, count in logged)
            sentences.append(f"What their servers logged as the cause of the errors: {listed}.")
    if holding:
        names = ", ".join(sorted(str(f.server["name"]) for f in holding))
        slowest = max((steady(f, "latency_p50_ms") or 0.0, str(f.server["name"])) for f in holding)
        sentences.append(
            f"Without a failure at any step: {names}. They queued instead: at the last step "
            f"the slowest of them answered in {_seconds(slowest[0])} (median, {slowest[1]}), "
            "within the article's 60 s timeout."
        )
    return sentences


def _names(figures: list[Figure]) -> str:
    return ", ".join(sorted(str(figure.server["name"]) for figure in figures))


def _busiest_text(step: BusiestStep) -> str:
    return (
        f"{cpu_label(step.figure, step.cpu)} {step.busy_percent:.0f} % busy at {step.users} users"
    )


def saturation_sentences(failing: list[Figure]) -> list[str]:
    """Whether the failing configurations ran out of CPU, said only as far as their figures
    can: the busy share of the CPU the server ran on (shared with nginx and PostgreSQL in the
    article's setup) decides, not the server's own share. Figures counted the old way are
    named, with what they cannot say."""
    sentences = []
    busiest = [step for figure in failing if (step := busiest_server_cpu(figure)) is not None]
    saturated = [step for step in busiest if step.busy_percent >= SATURATED_PERCENT]
    spare = [step for step in busiest if step.busy_percent < SATURATED_PERCENT]
    if saturated:
        listed = "; ".join(
            f"{step.figure.server['name']}: {_busiest_text(step)}"
            for step in sorted(saturated, key=lambda step: str(step.figure.server["name"]))
        )
        sentences.append(
            f"The CPU the server ran on had no time left ({SATURATED_PERCENT} % busy or more) "
            f"under {listed}: there the failures came with a saturated CPU."
        )
    if spare:
        top = max(spare, key=lambda step: step.busy_percent)
        who = (
            "None of them" if not saturated else f"The others ({_names([s.figure for s in spare])})"
        )
        sentences.append(
            f"{who} saturated the CPU the server ran on: the busiest, "
            f"{top.figure.server['name']}, kept {_busiest_text(top)}, so their errors are not "
            "the cost of running out of CPU."
        )
    steal = max((step.steal_percent or 0.0 for step in busiest), default=0.0)
    if steal >= 1:
        sentences.append(f"The hypervisor stole up to {steal:.1f} % of that CPU in those steps.")
    old = counted_old_way(failing)
    if old:
        cpu = _peak(old, "server_cpu_percent")
        tree = f"the server's tree alone used up to {cpu:.0f} % of a core, but " if cpu else ""
        sentences.append(
            f"Measured the old way ({_names(old)}): only the processes alive at each sample "
            "were counted, so the time of PostgreSQL's per-connection backends that had exited "
            f"is missing, and no per-CPU share was recorded; {tree}these figures do not record "
            "which CPU nginx and PostgreSQL ran on, so they cannot say whether the server's "
            "CPU was saturated."
        )
    return sentences


def template_globals() -> dict[str, Any]:
    return {
        "polls_findings": polls_findings,
        "interface_failures": interface_failures,
        "article_for": article_for,
        "compared_rows": compared_rows,
        "findings": findings,
        "steady_name": steady_name,
        "article_cell": article_cell,
    }
