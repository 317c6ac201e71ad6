"""MkDocs hook: render the generated pages from ``data/`` at every build.

Pages exist only in the build, never in ``docs/``, so they cannot drift from the data or be
edited by hand. ``data/`` is read once, and validated as it is read (``generators.reading``:
``evidence.validation`` with the server and check ids the repository defines, as ``nox -s
validate`` runs it), so the build refuses every file ``validate`` refuses. Servers are added to
the navigation in matrix order, benchmark scenarios in scenario order.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

# MkDocs imports hooks by file path; make the repository's packages importable too.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evidence.files import DataError
from evidence.layout import DEFAULT_DATA_DIR
from generators.benchmarks.scenario_pages import benchmark_navigation
from generators.definitions import CatalogError
from generators.escaping import navigation_title
from generators.operations import operation_navigation
from generators.reading import read_data
from generators.render import render, server_ids
from generators.repository import footer_line, repository_address, repository_name
from generators.versions import version_navigation

_pages: dict[str, str | bytes] = {}


def data_root() -> Path:
    """``data/`` unless SERVING_DJANGO_DATA names another directory (the tests use that)."""
    return Path(os.environ.get("SERVING_DJANGO_DATA", DEFAULT_DATA_DIR))


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    repository = show_repository(config)
    try:
        evidence, problems = read_data(data_root())
    except CatalogError as error:
        raise PluginError(f"cannot read the check catalog: {error}") from error
    if problems:
        raise PluginError("refusing to render invalid data:\n" + "\n".join(problems))
    try:
        _pages.clear()
        pages, site = render(evidence, repository)
        _pages.update(pages)
        servers = server_ids(site)
    except DataError as error:
        raise PluginError(f"cannot render invalid data:\n{error}") from error
    except CatalogError as error:
        raise PluginError(f"cannot render the checks: {error}") from error
    for entry in config.nav or []:
        if isinstance(entry, dict) and "Servers" in entry:
            entry["Servers"] = [
                {"All servers": "servers/index.md"},
                # MkDocs puts navigation titles into pages unescaped (see navigation_title).
                *(
                    {navigation_title(name): f"servers/{server_id}.md"}
                    for server_id, name in servers
                ),
            ]
        if isinstance(entry, dict) and "Operations" in entry:
            entry["Operations"] = [
                {navigation_title(title): page}
                for item in operation_navigation(site)
                for title, page in item.items()
            ]
        if isinstance(entry, dict) and "Versions" in entry:
            entry["Versions"] = version_navigation(site.versioned)
        if isinstance(entry, dict) and "Benchmarks" in entry:
            entry["Benchmarks"] = [{title: page} for title, page in benchmark_navigation()]
    return config


def show_repository(config: MkDocsConfig) -> str | None:
    """The repository's address from ``repo_url`` (SERVING_DJANGO_REPO_URL), or None; the
    header shows it by its ``owner/name``, and the footer links it or says it was not given."""
    repository = repository_address(config.repo_url)
    config.repo_url = repository
    if repository is not None:
        config.repo_name = repository_name(repository)
    config.copyright = footer_line(repository)
    return repository


def on_files(files: Files, config: MkDocsConfig, **_: Any) -> Files:
    for path, content in _pages.items():
        existing = files.get_file_from_path(path)
        if existing is not None:
            raise PluginError(f"docs/{path} would hide a generated page; delete docs/{path}")
        files.append(File.generated(config, path, content=content))
    return files
