"""How the benchmark pages show one number, one table cell and one headline.

A metric's unit and label come from the registry (``evidence.metrics``); a table column or
headline that names an unregistered metric stops the build instead of showing nothing.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from evidence.metrics import headlines, lookup, metric
from generators.benchmarks.figure import DRAIN_INCLUDED
from generators.benchmarks.figures import BenchmarkFile, Figure
from generators.benchmarks.shared_points import measured_in
from generators.escaping import markdown_text, slug

FAILURE_TEXT_LIMIT = 400
# A column key that is neither a metric nor a parameter: which scenario's runs a row shows
# (the h2load page cites the interleaved rounds' figure at the points both measured).
MEASURED_IN = "measured_in"


def unit_of(name: str) -> str:
    """The unit a metric is shown in."""
    return metric(name).metric.unit.shown


def scaled(value: float, name: str) -> float:
    """A stored value (bytes, ...) in the unit it is shown in."""
    return value / metric(name).metric.unit.divisor


def _digits(value: float, unit: str) -> str:
    if unit in ("×", "%", "s"):
        return f"{value:.2f}"
    if unit == "" and float(value).is_integer():
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def number(value: float, name: str) -> str:
    """A value of metric ``name`` in its display unit, with as many digits as mean something."""
    return _digits(scaled(value, name), unit_of(name))


def parameter_number(value: float, name: str) -> str:
    """A numeric parameter (clients, durations, a target rate...). A parameter that is a rate
    the load tool was asked for is shown like that metric; the others are not metrics, and by
    the harness's convention a duration's name ends in ``_s``."""
    if lookup(name) is not None:
        return number(value, name)
    return _digits(value, "s" if name.endswith("_s") else "")


def spread_text(figure: Figure, name: str) -> str:
    spread = figure.record["spread"].get(name)
    if spread is None:
        return ""
    repeats = len(figure.record["repeats"])
    if spread["cv_percent"] is None:
        # A figure measured once has no range: the table says so once (measured_once), not
        # in every cell.
        return "" if repeats == 1 else f"n={repeats}, no CV"
    low, high = number(spread["min"], name), number(spread["max"], name)
    return f"{low}–{high} · CV {spread['cv_percent']:.1f} % · n={repeats}"


def measured_once(figures: list[Figure]) -> bool:
    """Whether a table has figures measured in one run, whose cells show no range."""
    return any(figure.ok and len(figure.record["repeats"]) == 1 for figure in figures)


def value_cell(figure: Figure, name: str) -> Markup:
    """A metric's median with its spread and warnings, or why there is no number."""
    metric(name)  # an unregistered name is a template bug, not an empty cell
    if not figure.ok:
        return Markup("{}").format(figure.failed_word)
    value = figure.metric(name)
    if value is None:
        if (late := figure.unanswered(name)) is not None:
            return Markup("<small>{}</small>").format(late)
        if name in figure.record["metrics"]:
            return Markup("n/a (not in every repeat)")
        return Markup("n/a")
    if figure.counts_failures(name):
        return Markup("{}").format(not_a_throughput(figure, name))
    if (why := figure.unobservable(name)) is not None:
        return Markup("<small>{}</small>").format(why)
    cell = escape(number(value, name))
    spread = spread_text(figure, name)
    if spread:
        cell += Markup("<br><small>{}</small>").format(spread)
    if figure.drain_included(name):
        # Not compared, flagged or set against a ceiling: it is no rate the server held.
        return cell + Markup("<br><small>{}</small>").format(DRAIN_INCLUDED)
    change = figure.change(name) if metric(name).metric.compared else None
    if change is not None and change.moved:
        # Only a move beyond both captures' spreads is a change; a share in percent moves by
        # points (0.6 % to 4.6 % is +4.0 points, not +667 %).
        if unit_of(name) == "%":
            moved = Markup("{:+.1f} points").format(change.after - change.before)
        else:
            moved = Markup("{:+.1f} %").format(change.percent)
        cell += Markup("<br><small>{} since {}</small>").format(moved, change.capture)
    flag = figure.flag(name)
    if flag is not None:
        cell += Markup(' <span class="sd-flag">⚠ CV {} % &gt; {} %</span>').format(
            f"{flag['cv_percent']:.1f}", f"{flag['threshold_percent']:.0f}"
        )
    if (coarse := figure.coarse_rate(name)) is not None:
        cell += Markup(' <span class="sd-flag">⚠ {}</span>').format(coarse)
    if figure.over_ceiling(name) and figure.ceiling is not None:
        # Only numbers go into this HTML: Markdown runs inside raw HTML tags' attributes too.
        cell += Markup(
            ' <span class="sd-ceiling">⚠ above half the load tool\'s ceiling ({} req/s)</span>'
        ).format(number(figure.ceiling.requests_per_s, "requests_per_s"))
    return cell


def not_a_throughput(figure: Figure, name: str) -> str:
    """What a page shows instead of a load tool's rate that counts failed requests."""
    return f"not a throughput: up to {figure.failed_share(name) or 0:.1f} % of requests failed"


def failure_cell(figure: Figure, limit: int = FAILURE_TEXT_LIMIT) -> Markup:
    reason = str(figure.record["failure"] or "no reason recorded")
    if len(reason) > limit:
        reason = reason[: limit - 1] + "… (the full text is in data/benchmarks.json)"
    if figure.machine_fault:
        return Markup("**not measured: the machine's fault**: ") + markdown_text(reason)
    return Markup("**failed**: ") + markdown_text(reason)


def param_cell(figure: Figure, name: str) -> Markup:
    value = figure.params.get(name)
    if value is None:
        return Markup("")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return escape(parameter_number(value, name))
    return markdown_text(value)


def cells(figure: Figure, columns: list[tuple[str, str]]) -> list[Markup]:
    """One table row's cells for ``columns`` of (label, key); key ``params.X`` shows a parameter,
    ``figure`` the figure's name. On a failed figure the first metric cell says why and the
    others say failed."""
    shown, reason_given = [], False
    for _, key in columns:
        if key == "figure":
            shown.append(markdown_text(figure.record["figure"]))
        elif key == MEASURED_IN:
            shown.append(markdown_text(measured_in(figure)))
        elif key.startswith("params."):
            shown.append(param_cell(figure, key.removeprefix("params.")))
        elif not figure.ok and not reason_given:
            shown.append(failure_cell(figure))
            reason_given = True
        else:
            shown.append(value_cell(figure, key))
    return shown


def present(figures: list[Figure], columns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The columns some figure has a value for: a metric some ok figure reports, a parameter
    some figure has. With no ok figure, one column per label, so that failed rows still have
    cells to say so."""
    for _, key in columns:
        if key not in ("figure", MEASURED_IN) and not key.startswith("params."):
            metric(key)  # a column of an unregistered metric would be silently empty
    if not any(figure.ok for figure in figures):
        first_of_label: dict[str, str] = {}
        for label, key in columns:
            if key != MEASURED_IN or _reported(figures, key):
                first_of_label.setdefault(label, key)
        return list(first_of_label.items())
    return [(label, key) for label, key in columns if _reported(figures, key)]


def _reported(figures: list[Figure], key: str) -> bool:
    if key == "figure":
        return True
    if key == MEASURED_IN:  # only where a table mixes two scenarios' figures
        return len({figure.record["scenario"] for figure in figures}) > 1
    if key.startswith("params."):
        return any(key.removeprefix("params.") in figure.params for figure in figures)
    return any(key in figure.record["metrics"] for figure in figures if figure.ok)


def group_by_param(figures: list[Figure], name: str) -> dict[str, list[Figure]]:
    """Figures grouped by a parameter's value, in first-seen order ('' when it is missing)."""
    groups: dict[str, list[Figure]] = {}
    for figure in figures:
        groups.setdefault(str(figure.params.get(name, "")), []).append(figure)
    return groups


def counted_by_send_time(figures: list[Figure]) -> list[Figure]:
    """The ok figures whose run rate holds the queue drained after the last step."""
    return [figure for figure in figures if figure.ok and figure.drain_included("answered_per_s")]


def step_users(figures: list[Figure], base: str) -> list[int]:
    return sorted({users for figure in figures for users in figure.steps(base)})


def step_cell(figure: Figure, users: int, base: str) -> Markup:
    if not figure.ok:
        return Markup("{}").format(figure.failed_word)
    name = figure.steps(base).get(users)
    return value_cell(figure, name) if name else Markup("not run")


def server_link(figure: Figure | BenchmarkFile, prefix: str = "../servers/") -> Markup:
    server = figure.server
    name = markdown_text(server["name"])
    if not figure.has_page:
        return name
    return Markup("[{}]({}{}.md)").format(name, prefix, slug(server["id"]))


def server_label(figure: Figure) -> Markup:
    """The server's link, and the variant (other thread count...) when the figure is one."""
    variant = figure.params.get("variant")
    if not variant:
        return server_link(figure)
    return Markup("{} ({})").format(server_link(figure), markdown_text(str(variant)))


def headline(figure: Figure) -> Markup:
    """A figure's headline metrics (the registry's, for its scenario) in one table cell, or
    "failed" and why."""
    if not figure.ok:
        return failure_cell(figure)
    parts = [
        Markup("{}: {}").format(one.label, value_cell(figure, one.name))
        for one in headlines(figure.record["scenario"])
        if one.name in figure.record["metrics"]
    ]
    return Markup("<br>").join(parts) if parts else Markup("no metric recorded")


def captures_shown(figures: list[Figure]) -> list[str]:
    """ "Server: capture (profile)" for each server and capture the figures come from, once."""
    shown: list[str] = []
    for figure in figures:
        text = f"{figure.server['name']}: {figure.capture} ({figure.profile})"
        if text not in shown:
            shown.append(text)
    return shown
