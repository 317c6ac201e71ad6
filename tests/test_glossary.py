"""Terms of art link to the glossary on their first use on each page, and only there; the
glossary's figures are the code's; the repository is linked where the build is given it, and
a build without it says so. From SYNTHETIC data."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from mkdocs.config import load_config

from evidence.layout import REPO_ROOT
from evidence.validation import load_evidence
from generators.benchmarks.figure import (
    CENSORED_FROM_SHARE,
    COARSE_BELOW_PER_CLIENT,
    HEADROOM_SENTENCE_BELOW,
    MIN_REQUESTS_ABOVE,
)
from generators.glossary import GLOSSARY, Terms, glossary_ids
from generators.mkdocs_hooks import show_repository
from generators.render import render_pages
from generators.repository import BUILT_LOCALLY, REPO_URL_VARIABLE
from tests import synthetic

REPOSITORY = "https://github.com/example-owner/serving-django"
GLOSSARY_LINK = re.compile(r"\[((?:[^\]\\]|\\.)+)\]\(((?:\.\./)*)glossary\.md#([a-z0-9-]+)\)")
# Outcome words are everyday words too ("no", "error"): where they first appear as plain words
# says nothing about whether the term was linked on its first use.
EVERYDAY_WORDS = {"yes", "no", "partial", "error", "not-applicable"}


def _data(root: Path) -> Path:
    runs = [
        synthetic.run("uvicorn", name="Uvicorn", interface="asgi"),
        synthetic.run("gunicorn-sync", name="Gunicorn sync"),
    ]
    benchmarks = [
        synthetic.benchmark(
            "calibration", [synthetic.calibration_figure("h2load", "http/1.1", 10_000.0)]
        ),
        synthetic.benchmark("uvicorn", name="Uvicorn"),
    ]
    synthetic.write_data(root, runs, benchmarks)
    return root


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    evidence = load_evidence(_data(tmp_path_factory.mktemp("data")))
    rendered = render_pages(evidence)
    shown = {path: text for path, text in rendered.items() if path.endswith(".md")}
    shown["contributing.md"] = (REPO_ROOT / "docs" / "contributing.md").read_text()
    return shown


def running_text(page: str) -> str:
    """What a reader reads as sentences: no front matter, comments, headings, tables, raw
    HTML, code blocks, or the italic question under a benchmark page's title."""
    page = re.sub(r"\A---\n.*?\n---\n", "", page, flags=re.DOTALL)
    page = re.sub(r"<!--.*?-->", "", page, flags=re.DOTALL)
    page = re.sub(r"^```.*?^```", "", page, flags=re.DOTALL | re.MULTILINE)
    kept = [
        line
        for line in page.splitlines()
        if not line.lstrip().startswith(("#", "|", "<", "!["))
        and not re.fullmatch(r"\*[^*].*\*", line.strip())
    ]
    return re.sub(r"`[^`]*`", "", "\n".join(kept))


def plain(words: str) -> str:
    """Link text as read: Markdown escapes and HTML entities undone, whitespace as one space."""
    return " ".join(html.unescape(re.sub(r"\\(.)", r"\1", words)).split())


def test_a_page_links_a_term_once_relative_to_where_it_lives() -> None:
    term = Terms("benchmarks/h2load.md")
    assert term("cv", "CV") == "[CV](../glossary.md#cv)"
    assert term("cv", "CV") == "CV"
    assert Terms("index.md")("cv", "CV") == "[CV](glossary.md#cv)"
    with pytest.raises(KeyError, match="no entry 'no-such-term'"):
        term("no-such-term", "words")


def test_every_glossary_link_names_an_entry_once_per_page(pages: dict[str, str]) -> None:
    linked_pages = 0
    for path, text in pages.items():
        found = GLOSSARY_LINK.findall(text)
        entries = [entry for _, _, entry in found]
        linked_pages += bool(entries)
        assert set(entries) <= glossary_ids(), path
        assert all(prefix == "../" * path.count("/") for _, prefix, _ in found), path
        repeated = sorted({entry for entry in entries if entries.count(entry) > 1})
        assert not repeated, f"{path} links {repeated} more than once"
    # The home page, the benchmark pages, the methodology, contributing... link their terms.
    assert linked_pages >= 15


def test_a_term_is_linked_where_its_words_first_appear(pages: dict[str, str]) -> None:
    late = []
    for path, text in pages.items():
        prose = running_text(text)
        for link in GLOSSARY_LINK.finditer(prose):
            words, entry = plain(link.group(1)), link.group(3)
            if entry in EVERYDAY_WORDS:
                continue
            # A quoted title (an article's) names the term without using it.
            before = re.sub(r"“[^”]*”", "", GLOSSARY_LINK.sub(r"\1", prose[: link.start()]))
            before = plain(before)
            if re.search(rf"(?<![\w-]){re.escape(words)}(?![\w-])", before, re.IGNORECASE):
                late.append(f"{path}: {words!r}")
    assert not late, f"used before their glossary link: {late}"


def test_the_terms_the_issue_names_are_linked_where_they_are_used(pages: dict[str, str]) -> None:
    expected = {
        "benchmarks/fixed-rate-latency.md": {"closed-loop", "open-model", "coordinated-omission"},
        "benchmarks/interleaved.md": {"interleaved-rounds", "reference-app", "reference-ratio"},
        "benchmarks/calibration.md": {"ceiling", "headroom"},
        "benchmarks/h2load.md": {"coarse", "cv-flag", "answered-per-second"},
        "smuggling.md": {"request-smuggling", "reverse-proxy"},
        "methodology.md": {"percentile", "capture", "profile", "machine-id", "cause", "cl-te"},
        "index.md": {"wsgi", "asgi", "yes", "partial", "no", "error"},
    }
    for path, entries in expected.items():
        linked = {entry for _, _, entry in GLOSSARY_LINK.findall(pages[path])}
        assert entries <= linked, (path, entries - linked)


def test_the_reference_ratio_is_described_as_the_division_it_is(pages: dict[str, str]) -> None:
    # The figure is a configuration's answered/s over its reference app's: 1.2 is faster.
    assert "times fewer" not in "".join(pages.values())
    interleaved = " ".join(pages["benchmarks/interleaved.md"].split())
    assert "divided by the reference app's of its interface" in interleaved
    glossary = " ".join(GLOSSARY.read_text().split())
    assert "answered/s **divided by** the answered/s of the reference app" in glossary


def test_the_glossary_states_the_rules_the_code_applies() -> None:
    text = " ".join(GLOSSARY.read_text().split())
    assert f"at least {MIN_REQUESTS_ABOVE} requests above it" in text
    assert f"at least {MIN_REQUESTS_ABOVE * 100} requests in the window" in text
    assert CENSORED_FROM_SHARE == 0.5 and "below half the [window](#window)" in text
    assert f"fewer than {COARSE_BELOW_PER_CLIENT} requests each" in text
    assert f"Below {HEADROOM_SENTENCE_BELOW:g}×" in text


def test_cited_files_link_to_the_repository_only_where_it_is_known(tmp_path: Path) -> None:
    evidence = load_evidence(_data(tmp_path))
    known = render_pages(evidence, REPOSITORY)["methodology.md"]
    assert f"[`harness/sizing.py`]({REPOSITORY}/blob/HEAD/harness/sizing.py)" in known
    # A placeholder path links the folder that holds the files it stands for.
    assert f"[`harness/servers/<id>.toml`]({REPOSITORY}/tree/HEAD/harness/servers/)" in known
    unknown = render_pages(evidence)["methodology.md"]
    assert "`harness/sizing.py`" in unknown and "/blob/HEAD/" not in unknown


@pytest.mark.parametrize("given", [REPOSITORY + "/", None])
def test_the_header_and_footer_show_the_repository_or_say_it_was_not_given(
    monkeypatch: pytest.MonkeyPatch, given: str | None
) -> None:
    if given is None:
        monkeypatch.delenv(REPO_URL_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(REPO_URL_VARIABLE, given)
    config = load_config(str(REPO_ROOT / "mkdocs.yml"))
    shown = show_repository(config)
    if given is None:
        assert shown is None and config.repo_url is None
        assert config.copyright == BUILT_LOCALLY
    else:
        assert shown == config.repo_url == REPOSITORY
        assert config.repo_name == "example-owner/serving-django"
        assert f'<a href="{REPOSITORY}">example-owner/serving-django</a>' in config.copyright


def test_the_built_site_links_the_repository_without_asking_github(tmp_path: Path) -> None:
    data = _data(tmp_path / "data")
    completed = synthetic.build_site(data, tmp_path / "site", repo_url=REPOSITORY)
    assert completed.returncode == 0, completed.stderr
    page = (tmp_path / "site" / "glossary" / "index.html").read_text()
    header = page[page.index('class="md-header') : page.index("</header>")]
    assert f'href="{REPOSITORY}"' in header and "example-owner/serving-django" in header
    # Material's own partial marks the link as its "source" component, which asks the GitHub
    # API for stars; the override keeps the site from loading anything from other hosts.
    assert 'data-md-component="source"' not in page
    footer = page[page.index("md-copyright") :]
    assert f'<a href="{REPOSITORY}">example-owner/serving-django</a>' in footer
    assert BUILT_LOCALLY not in page
    assert (
        'href="../../glossary/#closed-loop"'
        in (tmp_path / "site" / "benchmarks" / "fixed-rate-latency" / "index.html").read_text()
    )
