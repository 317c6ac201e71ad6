"""The repository the site is built from, when the build is told where it is.

The Pages workflow passes its address in ``SERVING_DJANGO_REPO_URL`` (mkdocs.yml reads it into
``repo_url``); a local build usually has none, and then says so in the footer instead of
guessing. Pages that cite a file of the repository (``harness/sizing.py``) link it there
through ``SourceLinks``, and print it as code when the address is unknown.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from markupsafe import Markup

from generators.escaping import inline_code, safe_url

REPO_URL_VARIABLE = "SERVING_DJANGO_REPO_URL"
BUILT_LOCALLY = f"Built locally: repository address not given (set {REPO_URL_VARIABLE})."


def repository_address(value: str | None) -> str | None:
    """``value`` without a trailing slash when it is an http(s) URL with a host; else None."""
    if not value or safe_url(value) == "#":
        return None
    return value.strip().rstrip("/")


def repository_name(address: str) -> str:
    """What the header shows for the repository: its path, ``owner/name`` on GitHub."""
    return urlsplit(address).path.strip("/") or address


def footer_line(address: str | None) -> Markup:
    """The footer's line (MkDocs puts ``copyright`` into every page as HTML)."""
    if address is None:
        return Markup("{}").format(BUILT_LOCALLY)
    return Markup('Code, data and history: <a href="{}">{}</a>').format(
        address, repository_name(address)
    )


class SourceLinks:
    """``source("harness/sizing.py")``: the path as code, linked to the file in the repository
    (its default branch) where the address is known. A path with a placeholder
    (``harness/servers/<id>.toml``) links the folder that holds the files it stands for."""

    def __init__(self, address: str | None) -> None:
        self.address = address

    def __call__(self, path: str) -> Markup:
        code = inline_code(path)
        if self.address is None:
            return code
        target = path.rsplit("/", 1)[0] + "/" if "<" in path else path
        kind = "tree" if target.endswith("/") else "blob"
        return Markup("[{}]({})").format(code, safe_url(f"{self.address}/{kind}/HEAD/{target}"))
