"""Render every generated page of the site from ``data/``.

``render_pages`` returns {path inside docs/: content}; the MkDocs hook adds them to the build,
and ``python -m generators OUT_DIR`` writes them out for inspection.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from generators.charts import concurrency_chart
from generators.escaping import code_block, finalize, html_text, markdown_text, safe_url
from generators.model import OUTCOME_LABELS, Site, load_site
from generators.recommendations import all_verdicts
from harness.compare import captures, changes_in_capture
from harness.store import DEFAULT_DATA_DIR, SCHEMA_VERSION

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")


def slug(value: Any) -> Markup:
    """An id used inside a link or anchor; ids are validated by the schema, checked again here."""
    if not isinstance(value, str) or not _SLUG.match(value):
        raise ValueError(f"not a valid id for a link: {value!r}")
    return Markup(value)


def environment() -> jinja2.Environment:
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
        json_block=lambda value: code_block(json.dumps(value, indent=2, sort_keys=True), "json"),
        icon=lambda outcome: Markup(OUTCOME_LABELS[outcome][0]),
        label=lambda outcome: OUTCOME_LABELS[outcome][1],
        seconds=lambda value: "n/a" if value is None else f"{value:.2f} s",
        slug=slug,
        html=lambda value: Markup(html_text(value)),
        shell=shlex.join,
        commas=lambda items: Markup(", ").join(markdown_text(item) for item in items),
    )
    return env


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
                "evidence": result["evidence"],
                "evidence_page": f"servers/{run['server']['id']}/#{result['id']}",
                "measured_at": result["measured_at"],
                "machine": run["machine"],
                "capture": run["capture"],
                "profile": run["profile"],
                "source": site.sources[run["server"]["id"]],
            }
            for run in site.runs
            for result in run["checks"]
        ],
    }


def render_pages(data_root: Path = DEFAULT_DATA_DIR) -> dict[str, str]:
    site = load_site(data_root)
    env = environment()
    verdicts = all_verdicts(site.runs)
    common = {"site": site, "outcomes": OUTCOME_LABELS, "verdicts": verdicts}
    pages = {
        "index.md": env.get_template("index.md.j2").render(**common),
        "matrix.md": env.get_template("matrix.md.j2").render(**common),
        "methodology.md": env.get_template("methodology.md.j2").render(**common),
        "servers/index.md": env.get_template("servers_index.md.j2").render(**common),
        "recommendations.md": env.get_template("recommendations.md.j2").render(**common),
        "changes.md": env.get_template("changes.md.j2").render(
            history=change_history(site), **common
        ),
        "data/matrix.json": json.dumps(matrix_export(site), indent=2, sort_keys=True) + "\n",
        "charts/concurrency.svg": concurrency_chart(site.runs),
    }
    server_template = env.get_template("server.md.j2")
    for run in site.runs:
        pages[f"servers/{run['server']['id']}.md"] = server_template.render(
            run=run,
            source=site.sources[run["server"]["id"]],
            machine=site.machines[run["machine"]],
            **common,
        )
    return pages


def change_history(site: Site) -> list[dict[str, Any]]:
    """Per capture (newest first), what it changed against the previous capture."""
    return [
        {
            "machine": machine,
            "capture": capture,
            "changes": changes_in_capture(site.all_runs, machine, capture),
        }
        for machine, capture in captures(site.all_runs)
    ]


def server_ids(data_root: Path = DEFAULT_DATA_DIR) -> list[tuple[str, str]]:
    """(id, name) of each server, in matrix order, for the navigation."""
    return [(run["server"]["id"], run["server"]["name"]) for run in load_site(data_root).runs]
