"""Links from a page to the glossary, ``docs/glossary.md``, on each term's first use only.

The glossary is written by hand; each entry is a heading with an id (``### Closed loop {:
#closed-loop }``). A page is rendered with its own ``Terms``: ``term("closed-loop", "closed
loop")`` in a template gives a Markdown link the first time the page names that entry and the
words alone after it, so a reader meets one link per term, where the term first appears. An id
the glossary does not define stops the render (the strict build would only see the link when
the page shows it).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from markupsafe import Markup

from generators.escaping import markdown_text

GLOSSARY = Path(__file__).resolve().parent.parent / "docs" / "glossary.md"
GLOSSARY_PAGE = "glossary.md"
_ENTRY_ID = re.compile(r"^#{2,6} .*\{: #([a-z0-9-]+) \}$", re.MULTILINE)


@cache
def glossary_ids() -> frozenset[str]:
    """The id of every entry of the glossary."""
    return frozenset(_ENTRY_ID.findall(GLOSSARY.read_text(encoding="utf-8")))


class Terms:
    """The glossary links of one page: ``page`` is its path inside docs/ (``benchmarks/x.md``),
    from which the link to the glossary is made relative."""

    def __init__(self, page: str) -> None:
        self.prefix = "../" * page.count("/")
        self.linked: set[str] = set()

    def __call__(self, entry: str, words: str) -> Markup:
        if entry not in glossary_ids():
            # A misspelt id would otherwise reach the page as a link the build refuses.
            raise KeyError(
                f"{GLOSSARY_PAGE} has no entry {entry!r} (a heading with {{: #{entry} }})"
            )
        text = markdown_text(words)
        if entry in self.linked:
            return text
        self.linked.add(entry)
        return Markup("[{}]({}{}#{})").format(text, self.prefix, GLOSSARY_PAGE, entry)
