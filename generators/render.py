"""Render every generated page of the site from the evidence, read once.

``render_pages`` returns {path inside docs/: content}; the MkDocs hook adds them to the build,
and ``python -m generators OUT_DIR`` writes them out for inspection.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from evidence.compare import benchmark_changes, captures, changes_in_capture
from evidence.schema import SCHEMA_VERSION
from evidence.validation import Evidence
from generators.benchmarks import (
    agreement,
    cells,
    convergence,
    figure_charts,
    headlines,
    per_cpu,
    reproductions,
    rounds,
    settings_text,
    setups,
    shared_points,
)
from generators.benchmarks.export import export
from generators.benchmarks.figure import (
    CENSORED_FROM_SHARE,
    HEADROOM_SENTENCE_BELOW,
    MIN_REQUESTS_ABOVE,
)
from generators.benchmarks.figures import Benchmarks, shown_benchmarks
from generators.benchmarks.methodology import cv_thresholds, pinning_by_machine, settings_table
from generators.benchmarks.scenario_pages import scenario_pages
from generators.causes import (
    CAUSE_LABELS,
    HANDLERS,
    decided_by_said,
    glance_counts,
    not_the_servers,
)
from generators.charts import concurrency_chart
from generators.commands import (
    development_command,
    production_command,
    shell_lines,
    tls_command,
)
from generators.csv_export import BENCHMARK_COLUMNS, benchmarks_csv, matrix_csv
from generators.database_settings import best_settings, database_settings
from generators.definitions import presented_checks, presented_servers, release_notes
from generators.downloads import capture_archives, captures_with_files
from generators.escaping import (
    anchor,
    attribute_text,
    code_block,
    finalize,
    html_text,
    inline_code,
    markdown_text,
    safe_url,
    slug,
    url_path,
)
from generators.glossary import Terms
from generators.held_out import HELD_OUT_FILE, counts, held_out_comparisons, load_statements
from generators.model import OUTCOME_LABELS, Site, site_from
from generators.needs import load_rules
from generators.nginx_configurations import shown_configurations
from generators.operations import operation_checks, operation_page, operations_index
from generators.production_setup import middleware_rows, stack_thread_hops
from generators.ranking import Answer, answer
from generators.repository import SourceLinks
from generators.server_evidence import evidence_file, evidence_files
from generators.smuggling import smuggling_grid
from generators.stalls import write_stalls
from generators.versions import version_histories

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


_CELL_HELPERS = (
    "captures_shown",
    "measured_once",
    "present",
    "cells",
    "value_cell",
    "failure_cell",
    "number",
    "headline",
    "server_link",
    "server_label",
    "group_by_param",
    "step_users",
    "step_cell",
    "counted_by_send_time",
)
_CHART_HELPERS = (
    "first_metric",
    "most_clients",
    "by_param_chart",
    "metrics_chart",
    "steps_chart",
    "calibration_chart",
    "percentile_curve_chart",
)


def environment(
    cv_limit: str = "the recorded", repository: str | None = None
) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        finalize=finalize,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        text=markdown_text,
        code=code_block,
        url=safe_url,
        url_path=url_path,
        json_block=lambda value: code_block(json.dumps(value, indent=2, sort_keys=True), "json"),
        icon=lambda outcome: Markup(OUTCOME_LABELS[outcome][0]),
        label=lambda outcome: OUTCOME_LABELS[outcome][1],
        cause_icon=lambda cause: Markup(CAUSE_LABELS[cause][0]),
        cause_label=lambda cause: CAUSE_LABELS[cause][1],
        not_the_servers=lambda cause, outcome: not_the_servers(cause, OUTCOME_LABELS[outcome][1]),
        decided_by_said=decided_by_said,
        cause_or_outcome_icon=lambda key: Markup((CAUSE_LABELS.get(key) or OUTCOME_LABELS[key])[0]),
        seconds=lambda value: "n/a" if value is None else f"{value:.2f} s",
        slug=slug,
        anchor=anchor,
        html=lambda value: Markup(html_text(value)),
        attr=attribute_text,
        shell=shlex.join,
        shell_lines=shell_lines,
        commas=lambda items: Markup(", ").join(markdown_text(item) for item in items),
        inline_code=inline_code,
        # A repository path as code, linked to the file where the build knows the repository.
        source=SourceLinks(repository),
    )
    env.globals.update(
        scenario_pages=scenario_pages(),
        cv_limit=cv_limit,
        headroom_limit=HEADROOM_SENTENCE_BELOW,
        min_requests_above=MIN_REQUESTS_ABOVE,
        censored_share_text="half" if CENSORED_FROM_SHARE == 0.5 else f"{CENSORED_FROM_SHARE:g} of",
        **{name: getattr(cells, name) for name in _CELL_HELPERS},
        **{name: getattr(figure_charts, name) for name in _CHART_HELPERS},
        **reproductions.template_globals(),
        **per_cpu.template_globals(),
        **convergence.template_globals(),
        **setups.template_globals(),
        **shared_points.template_globals(),
        **settings_text.template_globals(),
        **rounds.template_globals(),
        **headlines.template_globals(),
        **agreement.template_globals(),
    )
    return env


class ChartFiles:
    """Collects the charts a page draws: ``chart(Chart)`` in a template stores the SVG under
    ``directory`` and returns the Markdown image that shows it."""

    def __init__(self, directory: str, stem: str) -> None:
        self.directory, self.stem = directory, stem
        self.files: dict[str, str] = {}

    def __call__(self, chart: figure_charts.Chart) -> Markup:
        name = f"{self.stem}-{len(self.files) + 1}.svg"
        self.files[f"{self.directory}/{name}"] = chart.svg
        image = Markup(f"![{markdown_text(chart.title)}](charts/{name}){{ .sd-chart }}")
        if not chart.left_out:
            return image
        listed = Markup("; ").join(markdown_text(item) for item in chart.left_out)
        scope = Markup(" of {}").format(markdown_text(chart.scope)) if chart.scope else ""
        return image + Markup(
            "\n\n<small>No bar where the shown captures have no figure{}: {}.</small>"
        ).format(scope, listed)


def outcomes_export(site: Site) -> dict[str, Any]:
    """The public ``data/outcomes.json``: matrix.json's servers, and each result's outcome and
    desync inputs and cause only (the pick-by-need page needs nothing more)."""
    full = matrix_export(site)
    return {
        "schema_version": full["schema_version"],
        "servers": full["servers"],
        "results": [
            {key: result[key] for key in ("server", "check", "outcome", "desync_inputs", "cause")}
            for result in full["results"]
        ],
    }


def matrix_export(site: Site) -> dict[str, Any]:
    """The public ``data/matrix.json``: servers, checks and every result, with its evidence."""
    return {
        "schema_version": SCHEMA_VERSION,
        "servers": [
            {
                "id": run["server"]["id"],
                "name": run["server"]["name"],
                "version": run["server"]["version"],
                "package": run["server"]["package"],
                "interface": run["server"]["interface"],
                "mode": run["server"]["mode"],
                "summary": run["server"]["summary"],
                "homepage": run["server"]["homepage"],
                "command": run["provenance"]["command"],
            }
            for run in site.runs
        ],
        "checks": site.checks,
        "machines": list(site.machines.values()),
        "results": [
            {
                "server": run["server"]["id"],
                "check": result["id"],
                "outcome": result["outcome"],
                "summary": result["summary"],
                # Whose behaviour decided a no or partial: server, django or project; null in
                # files written before December 2026 (read as the server's).
                "cause": result["cause"],
                "cause_detail": result["cause_detail"],
                # Set when the outcome needed a documented option: which, and its docs.
                "condition": result["condition"],
                "default_outcome": (result["default"] or result)["outcome"],
                "options_tried": [
                    {key: option[key] for key in ("option", "label", "docs", "outcome", "summary")}
                    for option in result.get("options") or []
                ],
                "absent_options": result["absent"],
                # The request-smuggling inputs that desync; None for other checks.
                "desync_inputs": result["desync_inputs"],
                "evidence": result["evidence"],
                "evidence_page": f"servers/{run['server']['id']}/#{result['id']}",
                "measured_at": result["measured_at"],
                "machine": run["machine"],
                # A check the newest run did not measure comes from an earlier run's file.
                "capture": (result["carried_from"] or run)["capture"],
                "profile": run["profile"],
                "source": (result["carried_from"] or {}).get("source")
                or site.sources[run["server"]["id"]],
            }
            for run in site.runs
            for result in run["checks"]
        ],
    }


def benchmark_pages(
    env: jinja2.Environment, benchmarks: Benchmarks, stalls: list[dict[str, Any]] | None = None
) -> dict[str, str]:
    """``benchmarks/index.md``, one page per scenario, and the SVG charts those pages draw;
    ``stalls`` are the checks' delayed-ACK stalls that explain one-client figures."""
    facts = settings_text.settings_facts(benchmarks)
    index_charts = ChartFiles("benchmarks/charts", "index")
    pages = {
        "benchmarks/index.md": env.get_template("benchmarks_index.md.j2").render(
            bench=benchmarks, chart=index_charts, term=Terms("benchmarks/index.md")
        ),
        **index_charts.files,
    }
    for scenario, (title, question) in scenario_pages().items():
        charts = ChartFiles("benchmarks/charts", scenario)
        pages[f"benchmarks/{scenario}.md"] = env.get_template(f"benchmark_{scenario}.md.j2").render(
            bench=benchmarks,
            scenario=scenario,
            title=title,
            question=question,
            chart=charts,
            facts=facts,
            stalls=stalls or [],
            term=Terms(f"benchmarks/{scenario}.md"),
        )
        pages.update(charts.files)
    return pages


def render_pages(evidence: Evidence, repository: str | None = None) -> dict[str, str | bytes]:
    """Every page from ``evidence``."""
    return render(evidence, repository)[0]


def render(
    evidence: Evidence, repository: str | None = None
) -> tuple[dict[str, str | bytes], Site]:
    """Every page from ``evidence``, and the site they show (the MkDocs hook builds the
    navigation from it); ``repository``, the repository's address where the build knows it,
    links the files the pages cite."""
    servers = presented_servers()  # the definitions, read once per build
    site = site_from(evidence, servers)
    benchmarks = shown_benchmarks(evidence, {run["server"]["id"] for run in site.runs}, servers)
    env = environment(cv_limit=cv_thresholds(benchmarks), repository=repository)
    answers, watch = need_answers(site)
    common = {
        "site": site,
        "outcomes": OUTCOME_LABELS,
        "answers": answers,
        "watched": watch,
        "handlers": HANDLERS,
        "glance_counts": glance_counts,
    }
    benchmark_documents = [loaded.document for loaded in evidence.benchmarks]
    downloads = captures_with_files(evidence)
    production_middleware = middleware_rows()
    held_out = held_out_comparisons(
        site,
        load_statements(
            HELD_OUT_FILE, set(servers), {check["id"]: check for check in presented_checks()}
        ),
    )
    pages: dict[str, str | bytes] = {
        "index.md": env.get_template("index.md.j2").render(term=Terms("index.md"), **common),
        "matrix.md": env.get_template("matrix.md.j2").render(term=Terms("matrix.md"), **common),
        "methodology.md": env.get_template("methodology.md.j2").render(
            pinning=pinning_by_machine(benchmarks),
            settings=settings_table(benchmarks),
            facts=settings_text.settings_facts(benchmarks),
            window_findings=settings_text.window_findings(benchmarks),
            production_middleware=production_middleware,
            production_asgi_hops=stack_thread_hops(production_middleware),
            nginx_configurations=shown_configurations(),
            downloads=downloads,
            benchmark_columns=BENCHMARK_COLUMNS,
            held_out=held_out,
            held_out_counts=counts(held_out),
            term=Terms("methodology.md"),
            **common,
        ),
        "servers/index.md": env.get_template("servers_index.md.j2").render(
            term=Terms("servers/index.md"), **common
        ),
        "recommendations.md": env.get_template("recommendations.md.j2").render(
            database=database_settings(site.runs),
            best_database=best_settings(database_settings(site.runs)),
            term=Terms("recommendations.md"),
            **common,
        ),
        "pick.md": pick_page(env, answers, watch),
        "smuggling.md": env.get_template("smuggling.md.j2").render(
            grid=smuggling_grid(site), term=Terms("smuggling.md")
        ),
        "changes.md": env.get_template("changes.md.j2").render(
            history=change_history(site, benchmark_documents), term=Terms("changes.md"), **common
        ),
        "data/matrix.json": json.dumps(matrix_export(site), indent=2, sort_keys=True) + "\n",
        # What /pick/ loads: the outcomes alone (matrix.json carries every evidence, megabytes).
        "data/outcomes.json": json.dumps(
            outcomes_export(site), separators=(",", ":"), sort_keys=True
        )
        + "\n",
        # Compact: it holds every raw repeat, and json only uses its fast encoder without indent.
        "data/benchmarks.json": json.dumps(
            export(benchmarks, site.machines), separators=(",", ":"), sort_keys=True
        )
        + "\n",
        "data/matrix.csv": matrix_csv(site),
        "data/benchmarks.csv": benchmarks_csv(benchmarks),
        "charts/concurrency.svg": concurrency_chart(site.runs),
        **benchmark_pages(env, benchmarks, write_stalls(site.runs)),
        **capture_archives(downloads, env),
    }
    pages["operations/index.md"] = env.get_template("operations_index.md.j2").render(
        index=operations_index(site), term=Terms("operations/index.md"), **common
    )
    operation_template = env.get_template("operation.md.j2")
    for check in operation_checks(site):
        pages[f"operations/{check['id']}.md"] = operation_template.render(
            page=operation_page(site, check), term=Terms(f"operations/{check['id']}.md"), **common
        )
    histories = version_histories(
        [loaded.document for loaded in evidence.versions],
        presented_checks(),
        servers,
        release_notes(),
    )
    pages["versions/index.md"] = env.get_template("versions.md.j2").render(
        histories=histories, term=Terms("versions/index.md")
    )
    site = replace(site, versioned=[(h.server["id"], h.server["name"]) for h in histories])
    for history in histories:
        pages[f"versions/{history.server['id']}.md"] = env.get_template(
            "version_server.md.j2"
        ).render(history=history, term=Terms(f"versions/{history.server['id']}.md"))
    # Per configuration and check, the release where its outcome last changed (versions/).
    since_by_server = {
        h.server["id"]: {check.check["id"]: check.transitions[-1] for check in h.changed()}
        for h in histories
    }
    server_template = env.get_template("server.md.j2")
    pages.update(evidence_files(site.runs, site.sources))
    for run in site.runs:
        server_id = run["server"]["id"]
        pages[f"servers/{server_id}.md"] = server_template.render(
            run=run,
            evidence_file=evidence_file(server_id),
            since=since_by_server.get(server_id, {}),
            # Relative to servers/<id>.md, so MkDocs checks the link and rewrites it per page.
            evidence_link=evidence_file(server_id).removeprefix("servers/"),
            source=site.sources[run["server"]["id"]],
            machine=site.machines[run["machine"]],
            benchmarks=benchmarks.for_server(run["server"]["id"]),
            production=production_command(run),
            tls_command=tls_command(run),
            development=development_command(run),
            term=Terms(f"servers/{server_id}.md"),
            **common,
        )
    return pages, site


def need_answers(site: Site) -> tuple[list[Answer], list[str]]:
    """Each need of ``generators/rules/needs.toml`` with its answer from the shown runs (the
    one list the home page, /recommendations/ and /pick/ all print), and the watched checks."""
    titles = check_titles()
    needs, watch = load_rules(set(titles))
    return [answer([need], site.runs, watch, titles) for need in needs], watch


def check_titles() -> dict[str, str]:
    return {check["id"]: check["title"] for check in presented_checks()}


def pick_page(env: jinja2.Environment, answers: list[Answer], watch: list[str]) -> str:
    """/pick/: the needs, per need its answer, and what the page's script needs to answer
    several needs ticked together by the same rule."""
    return env.get_template("pick.md.j2").render(
        answers=answers,
        need_records=[item.need.as_record() for item in answers],
        term=Terms("pick.md"),
        rule_data={"watch": watch, "titles": check_titles()},
    )


def change_history(
    site: Site, benchmark_documents: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Per capture (newest first), what it changed against the previous capture."""
    documents = benchmark_documents or []
    return [
        {
            "machine": machine,
            "capture": capture,
            "changes": changes_in_capture(site.all_runs, machine, capture)
            + benchmark_changes(documents, machine, capture),
        }
        for machine, capture in captures([*site.all_runs, *documents])
    ]


def server_ids(site: Site) -> list[tuple[str, str]]:
    """(id, name) of each server, in matrix order, for the navigation."""
    return [(run["server"]["id"], run["server"]["name"]) for run in site.runs]
