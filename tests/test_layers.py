"""The layers stay apart: the store stage (``evidence``) imports nothing else of ours, the
rendering side (``generators``) imports only ``evidence``, and ``harness`` has no import circle.
Imports are read from the source with ``ast``, so a late import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

from evidence.layout import REPO_ROOT

OUR_PACKAGES = ("evidence", "generators", "harness")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module of ours that ``path`` imports, wherever the import statement is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing module's package
                anchor = _module_name(path).split(".")
                if path.name != "__init__.py":
                    anchor = anchor[:-1]
                base = ".".join([*anchor[: len(anchor) - node.level + 1], base]).strip(".")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in OUR_PACKAGES}


def _modules(package: str) -> dict[str, Path]:
    return {_module_name(path): path for path in sorted((REPO_ROOT / package).rglob("*.py"))}


def test_generators_import_nothing_of_the_harness() -> None:
    offenders = {
        name: sorted(imported)
        for name, path in _modules("generators").items()
        if (imported := {i for i in imports_of(path) if i.split(".")[0] == "harness"})
    }
    assert offenders == {}


def test_evidence_imports_only_itself() -> None:
    offenders = {
        name: sorted(imported)
        for name, path in _modules("evidence").items()
        if (imported := {i for i in imports_of(path) if i.split(".")[0] != "evidence"})
    }
    assert offenders == {}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (module -> modules it imports), or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_harness_has_no_import_circle() -> None:
    modules = _modules("harness")
    # ``from harness.checks import x`` names the package or a module in it; keep modules only,
    # and a package's own __init__ importing its submodules is how packages are assembled.
    graph = {
        name: {
            target
            for target in imports_of(path)
            if target in modules and target != name and not target.startswith(f"{name}.")
        }
        for name, path in modules.items()
    }
    assert _cycle(graph) is None


def test_the_circle_finder_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_imports_are_read_from_inside_functions_too(tmp_path: Path) -> None:
    path = tmp_path / "probe.py"
    path.write_text("def late():\n    from harness.capture import run_capture\n")
    assert "harness.capture" in imports_of(path)


def test_the_docs_requirements_hold_no_harness_package() -> None:
    """``nox -s docs`` installs requirements/docs.txt only; rendering must not need more."""
    lines = (REPO_ROOT / "requirements" / "docs.txt").read_text().splitlines()
    names = {line.split("==")[0].strip().lower() for line in lines if line and line[0] != "#"}
    harness_only = {"locust", "playwright", "httpx", "psutil", "django", "uvicorn", "gunicorn"}
    harness_only |= {"daphne", "hypercorn", "granian", "uwsgi", "gevent", "trustme", "uv"}
    assert names == {"jinja2", "jsonschema", "mkdocs", "mkdocs-material"}
    assert not names & harness_only
