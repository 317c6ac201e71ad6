"""A tooltip survives Markdown: the text a reader hovers over is the text the data holds."""

from __future__ import annotations

from html.parser import HTMLParser

import markdown
import pytest

from generators.escaping import attribute_text


class _Titles(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.titles: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.titles.append(dict(attrs).get("title"))


@pytest.mark.parametrize(
    "text",
    [
        "in Chromium's EventSource.",
        'a "quoted" <b>tag</b> & an ampersand',
        "Markdown's syntax: *stars* _under_ `code` [link](x) #1 (a) 1. x | y ~ ! + -",
        "an entity-looking &#x27; and &amp; stay as typed",
    ],
)
def test_a_tooltip_in_a_markdown_cell_reads_as_its_text(text: str) -> None:
    link = f'<a href="x" title="{attribute_text(text)}">y</a>'
    source = f'<table><tr><td markdown="span">{link}</td></tr></table>'
    parser = _Titles()
    parser.feed(markdown.markdown(source, extensions=["md_in_html"]))
    assert parser.titles == [text]
