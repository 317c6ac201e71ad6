"""Reading the environment variables that select a settings variant (see settings.py)."""

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
POSTGRES_SCHEMES = frozenset({"postgres", "postgresql"})


def env_flag(name: str) -> bool:
    """Whether the variable is set to 1/true/yes/on (any case); unset or anything else is off."""
    return os.environ.get(name, "").strip().lower() in TRUE_WORDS


def env_list(name: str) -> list[str]:
    """The non-empty items of a comma-separated variable, stripped."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def database_from_url(url: str) -> dict[str, object]:
    """A DATABASES entry for ``postgres://user:pass@host:port/name``.

    Parsed with urllib so that the sample project needs no URL-parsing dependency; user and
    password may be percent-encoded.
    """
    parts = urlsplit(url)
    if parts.scheme not in POSTGRES_SCHEMES:
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme {parts.scheme!r} is not supported; "
            f"use one of {sorted(POSTGRES_SCHEMES)} (or unset it for SQLite)."
        )
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured("DATABASE_URL has no database name after the host.")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


def sqlite_database(path: str | Path) -> dict[str, object]:
    """A DATABASES entry for an SQLite file."""
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": Path(path)}
