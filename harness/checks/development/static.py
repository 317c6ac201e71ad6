"""The dev-static check: in development mode, is the stylesheet the home page links served?"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from harness.checks import Check, CheckContext, Finding
from harness.checks.development._shared import (
    BODY_SAMPLE_CHARS,
    GROUP,
    REQUEST_TIMEOUT_S,
    failure,
    needs_launcher,
    start_failed,
)
from harness.checks.development.logs import log_since
from harness.launcher import Instance
from harness.process import StartError

STATIC_THRESHOLDS = (
    "yes when the stylesheet linked from the home page answers 200 with a text/css "
    "Content-Type; partial when it answers 200 with another Content-Type (browsers refuse it "
    "under X-Content-Type-Options: nosniff); no for any other status or a failed request."
)


class _StylesheetLinks(HTMLParser):
    """Collects the href of every <link rel="stylesheet">."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        rel = (values.get("rel") or "").lower().split()
        if tag == "link" and "stylesheet" in rel and values.get("href"):
            self.hrefs.append(values["href"] or "")


def stylesheet_hrefs(html: str) -> list[str]:
    """The stylesheet links of an HTML page, in document order."""
    parser = _StylesheetLinks()
    parser.feed(html)
    return parser.hrefs


def judge_static(status: int | None, content_type: str) -> str:
    if status != 200:
        return "no"
    return "yes" if content_type.split(";")[0].strip().lower() == "text/css" else "partial"


def _fetch_stylesheet(instance: Instance, home_path: str) -> tuple[Finding | None, dict]:
    """The home page and its first stylesheet; a Finding when the page itself is unusable."""
    evidence: dict[str, Any] = {"instance": instance.describe(), "home_path": home_path}
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        home = client.get(instance.url(home_path))
        evidence["home_status"] = home.status_code
        if home.status_code != 200:
            return Finding(
                "error",
                f"The home page answered {home.status_code} in development mode, so its "
                "stylesheet link could not be read.",
                evidence,
            ), evidence
        hrefs = stylesheet_hrefs(home.text)
        evidence["stylesheet_hrefs"] = hrefs
        if not hrefs:
            return Finding("error", "The home page links no stylesheet.", evidence), evidence
        css_url = urljoin(str(home.url), hrefs[0])
        evidence["stylesheet_path"] = urlsplit(css_url).path
        try:
            css = client.get(css_url)
        except httpx.HTTPError as error:
            evidence.update(status=None, error=failure(error))
            return None, evidence
    evidence.update(
        status=css.status_code,
        content_type=css.headers.get("content-type", ""),
        size_bytes=len(css.content),
        headers=dict(css.headers),
        body_sample=css.text[:BODY_SAMPLE_CHARS],
    )
    return None, evidence


def _static_summary(outcome: str, evidence: dict[str, Any]) -> str:
    path = evidence["stylesheet_path"]
    if outcome == "yes":
        return (
            f"Served: {path} answered 200 {evidence['content_type']} "
            f"({evidence['size_bytes']:,} bytes) with DEBUG on and no WhiteNoise."
        )
    if outcome == "partial":
        return (
            f"Served with the wrong type: {path} answered 200 as "
            f"{evidence['content_type'] or 'no Content-Type'}, not text/css."
        )
    status = evidence["status"]
    answer = f"answered {status}" if status is not None else f"failed ({evidence['error']})"
    return (
        f"Not served: {path} {answer} in development mode; serve /static/ with WhiteNoise or "
        "a proxy in front of the server."
    )


def run_dev_static(context: CheckContext) -> Finding:
    problem = needs_launcher(context)
    if problem:
        return problem
    try:
        with context.launcher.launch("http", dev_mode=True) as instance:
            finding, evidence = _fetch_stylesheet(instance, context.endpoints["home"])
            evidence["log_excerpt"] = log_since(instance, instance.log_offset)
    except StartError as error:
        return start_failed(error, "in development mode")
    if finding is not None:
        return finding
    outcome = judge_static(evidence["status"], evidence.get("content_type", ""))
    return Finding(outcome, _static_summary(outcome, evidence), evidence)


CHECK = Check(
    id="dev-static",
    title="Static files in development",
    group=GROUP,
    question=(
        "In development mode (DEBUG on, no WhiteNoise, no collectstatic), is the CSS file "
        "that the home page links served?"
    ),
    thresholds=STATIC_THRESHOLDS,
    run=run_dev_static,
)
