"""Sessions of Serving Django. `nox -l` lists them; README.md shows the two you need."""

from __future__ import annotations

import os

import nox
import nox.command

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "validate", "tests"]
nox.options.error_on_missing_interpreters = True

# MkDocs 1.6 prints a banner about its successor on every build; it is noise in our logs.
os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
# Install session packages with their bytecode, as pip does: a capture starts Locust about a
# hundred times, and where PYTHONDONTWRITEBYTECODE is set every start would compile it anew.
os.environ.setdefault("UV_COMPILE_BYTECODE", "1")

PYTHON = "3.12"  # Django 6.1 needs Python 3.12 or newer


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite (sample project, harness with real servers, generators, site, a11y)."""
    session.install("-r", "requirements/tests.txt")
    # axe-core, injected into pages by the accessibility audit: pinned by package-lock.json.
    session.run("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", external=True)
    # The slowest tests are named at the end of every run, so that the suite's time (aimed at
    # under 10 minutes) can be trimmed where it goes.
    session.run("pytest", "--durations=25", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Lint and format-check with ruff."""
    session.install("-r", "requirements/lint.txt")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def validate(session: nox.Session) -> None:
    """Check every file under data/ and every server definition; name each problem."""
    session.install("-r", "requirements/harness.txt")
    session.run("python", "-m", "harness.validate")


@nox.session(python=PYTHON, default=False)
def regenerate(session: nox.Session) -> None:
    """Capture every server (-- --server/--check/--scenario ID, --resume, --quick); build site/."""
    session.install("-r", "requirements/harness.txt", "-r", "requirements/docs.txt")
    session.run("python", "-m", "harness.validate")
    incomplete = False
    try:
        session.run("python", "-m", "harness", "capture", *session.posargs)
    except nox.command.CommandFailed as failure:
        # 1: some configurations were not captured (the harness listed them); the site is
        # still built from everything that was recorded, and the session fails afterwards.
        if failure.return_code != 1:
            raise
        incomplete = True
    session.run("mkdocs", "build", "--strict")
    if incomplete:
        session.error("some configurations were not captured (listed above); site/ shows the rest")


@nox.session(python=PYTHON, default=False)
def versions(session: nox.Session) -> None:
    """Check older server releases, Djangos, Pythons (-- --server/--release/--django/--python)."""
    session.install("-r", "requirements/harness.txt")
    session.run("python", "-m", "harness.validate")
    session.run("python", "-m", "harness", "capture", "--versions", *session.posargs)


@nox.session(python=PYTHON, default=False)
def versions_matrix(session: nox.Session) -> None:
    """Print the version axis as a GitHub Actions job matrix, one job each (-- --output FILE)."""
    session.install("-r", "requirements/harness.txt")
    session.run("python", "-m", "harness", "versions-matrix", *session.posargs)


@nox.session(python=PYTHON, default=False)
def merge_versions(session: nox.Session) -> None:
    """Merge version jobs' data folders into one capture per machine (-- DIR... --into data)."""
    session.install("-r", "requirements/harness.txt")
    session.run("python", "-m", "harness", "merge-versions", *session.posargs)
    session.run("python", "-m", "harness.validate")


@nox.session(python=PYTHON, default=False)
def docs(session: nox.Session) -> None:
    """Render committed data/ into site/ (validated as read); installs only the docs packages."""
    # Only what rendering needs: the build reads data/ through evidence/ and imports nothing of
    # the harness, so no load tool, browser or server package is installed here.
    session.install("-r", "requirements/docs.txt")
    session.run("mkdocs", "build", "--strict", *session.posargs)


@nox.session(python=PYTHON, default=False)
def serve(session: nox.Session) -> None:
    """Build the site, then preview it on http://127.0.0.1:8000/ (-- --port N)."""
    session.install("-r", "requirements/docs.txt")
    session.run("mkdocs", "build", "--strict")
    port = (
        session.posargs[session.posargs.index("--port") + 1]
        if "--port" in session.posargs
        else "8000"
    )
    session.run("python", "-m", "http.server", "--bind", "127.0.0.1", "--directory", "site", port)
