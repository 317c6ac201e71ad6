"""Everything that comes from data is untrusted text: escape it for Markdown *and* HTML.

Pages are Markdown rendered by MkDocs, so escaping HTML alone is not enough: ``[x](javascript:..)``
contains no ``<`` yet would become a link. Every ``{{ value }}`` in a template therefore passes
through ``markdown_text`` unless a filter already returned ``Markup`` on purpose.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any
from urllib.parse import quote, urlsplit

from markupsafe import Markup

# Characters Python-Markdown treats as syntax and accepts a backslash escape for ("|" for tables).
# "<" and ">" are left to html.escape, which runs after (a backslash before "&lt;" would show).
_MARKDOWN_SYNTAX = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_CAPTURE_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z$")


def _shown(value: Any) -> str:
    """Text with control characters dropped and invisible format characters (bidi overrides
    U+202A-202E and isolates U+2066-2069, zero-width characters...) shown as ``[U+XXXX]``: a
    contributed string cannot reorder or hide what a page shows around it."""
    return "".join(
        f"[U+{ord(char):04X}]" if unicodedata.category(char) == "Cf" else char
        for char in _CONTROL.sub("", str(value))
    )


def markdown_text(value: Any) -> Markup:
    """Inline text: one line, Markdown syntax neutralised, HTML escaped."""
    text = _shown(value).replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return Markup(html.escape(_MARKDOWN_SYNTAX.sub(r"\\\1", text), quote=True))


def html_text(value: Any) -> str:
    """Text inside a raw HTML block (where Markdown escapes would show): HTML-escaped only."""
    return html.escape(_shown(value), quote=True)


def attribute_text(value: Any) -> Markup:
    """Text for an HTML attribute inside Markdown (a tooltip, a data- label): HTML-escaped, and
    Markdown's syntax characters written as character references, which the browser decodes in
    the attribute while Markdown sees no syntax (a backslash escape would show in a tooltip)."""
    text = _shown(value).replace("\r", " ").replace("\n", " ")
    # One pass, every character referenced once: escaping HTML first and Markdown's characters
    # after would turn the "#" of html.escape's "&#x27;" into "&#35;", and a tooltip would
    # show "&#x27;" where the text said "'".
    return Markup("".join(_attribute_character(character) for character in text))


def _attribute_character(character: str) -> str:
    if character in "&<>\"'" or _MARKDOWN_SYNTAX.fullmatch(character):
        return f"&#{ord(character)};"
    return character


def navigation_title(value: Any) -> str:
    """Text for MkDocs navigation and <title>: Material's template runs titles through
    ``striptags``, which *un*-escapes entities, so escaping cannot survive there. Characters
    that could form markup are dropped instead (display names never need them)."""
    return re.sub(r"[<>&\"'`]", "", _shown(value)).strip() or "(unnamed)"


def slug(value: Any) -> Markup:
    """An id used inside a link or anchor; ids are validated by the schema, checked again here."""
    if not isinstance(value, str) or not _SLUG.match(value):
        raise ValueError(f"not a valid id for a link: {value!r}")
    return Markup(value)


def anchor(value: Any) -> Markup:
    """An anchor made from display text (a check group's name): lower-case letters and digits,
    everything else a hyphen."""
    return slug(re.sub(r"[^a-z0-9]+", "-", str(value).lower()).strip("-")[:80] or "section")


def capture_id(value: Any) -> Markup:
    """A capture id used inside a link (``YYYYMMDDTHHMMSSZ``, as the schema requires)."""
    if not isinstance(value, str) or not _CAPTURE_ID.match(value):
        raise ValueError(f"not a valid capture id for a link: {value!r}")
    return Markup(value)


def finalize(value: Any) -> Any:
    return value if isinstance(value, Markup) else markdown_text(value)


def code_block(value: Any, language: str = "") -> Markup:
    """A fenced block that no content can close early (the fence outgrows any backtick run)."""
    text = _shown(value).replace("\r", "")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return Markup(f"{fence}{language}\n{text}\n{fence}")


def inline_code(value: Any) -> Markup:
    """Inline code: Markdown shows its content as typed (escapes would show) and HTML-escapes
    it itself; the backtick fence outgrows any backtick run, so nothing can close it early."""
    text = _shown(value).replace("\r", " ").replace("\n", " ").replace("\t", " ")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    return Markup(f"{fence} {text} {fence}" if longest else f"{fence}{text}{fence}")


def url_path(value: Any) -> Markup:
    """A relative path of the site as a Markdown link target: percent-encoded, so no
    character of it can end the link or start markup."""
    return Markup(quote(str(value), safe="/-._~"))


def safe_url(value: Any) -> Markup:
    """An http(s) URL made safe as a Markdown link target; anything else becomes '#'."""
    url = str(value).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or _shown(url) != url:
        return Markup("#")
    return Markup(html.escape(quote(url, safe=":/?#@!$&'*+,;=%-._~"), quote=True))
