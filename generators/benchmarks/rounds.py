"""What the interleaved page says about its rounds: how many were taken and why no more, and
how far apart they were (the CV of answered/s between rounds, of the reference apps and of the
configurations), all from the figures' parameters and spreads and the file's settings."""

from __future__ import annotations

import statistics
from typing import Any

from generators.benchmarks.figures import Figure, MachineBenchmarks
from generators.benchmarks.settings_text import and_list, rounds_phrase

RATE = "answered_per_s"


def _cv(figure: Figure) -> float | None:
    spread = figure.record["spread"].get(RATE) or {}
    value = spread.get("cv_percent")
    return value if isinstance(value, int | float) else None


def _why_stopped(stopped: str | None, limit: float | None) -> str:
    limit_text = f"{limit:g} %" if limit is not None else "the profile's CV"
    return {
        "reference-settled": (
            f"they stopped once every reference app's answered/s varied between rounds by less "
            f"than {limit_text}"
        ),
        "round-cap": (
            f"they stopped at the most rounds with a reference app still varying by "
            f"{limit_text} or more, so the machine moved the figures below by about as much"
        ),
        "reference-failed": "they stopped at the least number: a reference app failed",
        "interrupted": "the capture was interrupted before the rounds were done",
    }.get(
        str(stopped),
        "a fixed number of rounds (captured before the rounds went on until the references "
        "settled)",
    )


def _reference_label(figure: Figure) -> str:
    interface = str(figure.params.get("interface", "")).upper()
    clients = figure.params.get("clients")
    return f"{interface} at {clients} client{'' if clients == 1 else 's'}"


def rounds_sentences(machine: MachineBenchmarks, figures: list[Figure], cv_limit: Any) -> list[str]:
    """Two sentences per capture of these figures: the rounds and why they stopped, and how
    far apart the rounds were."""
    sentences = []
    for capture in sorted({figure.capture for figure in figures}):
        ours = [figure for figure in figures if figure.capture == capture and figure.ok]
        if not ours:
            continue
        file = machine.interleaved_by_capture.get(capture)
        settings = (file.document.get("settings") or {}) if file else {}
        taken = and_list(sorted({f.params["rounds"] for f in ours if "rounds" in f.params}))
        stopped = {f.params.get("rounds_stopped") for f in ours}
        rule = rounds_phrase(settings)
        why = "; ".join(
            _why_stopped(one, settings.get("interleaved_reference_cv_percent"))
            for one in sorted(stopped, key=str)
        )
        sentences.append(
            f"Capture {capture}: {taken} round{'s' if taken != '1' else ''}"
            + (f" (the profile's rule: {rule})" if rule else "")
            + f"; {why}."
        )
        references = [
            f"{_reference_label(f)} {cv:.1f} %"
            for f in ours
            if f.params.get("reference") and (cv := _cv(f)) is not None
        ]
        configurations = [
            cv for f in ours if not f.params.get("reference") and (cv := _cv(f)) is not None
        ]
        parts = []
        if references:
            parts.append(f"the reference apps {', '.join(references)}")
        if configurations:
            above = sum(cv > float(cv_limit) for cv in configurations)
            parts.append(
                f"the configurations from {min(configurations):.1f} to "
                f"{max(configurations):.1f} % (median {statistics.median(configurations):.1f} %; "
                f"{above} of {len(configurations)} figures above {cv_limit} %, flagged ⚠ CV)"
            )
        if parts:
            sentences.append(
                "How far apart the rounds were (CV of answered/s between rounds): "
                + "; ".join(parts)
                + "."
            )
    return sentences


def template_globals() -> dict[str, Any]:
    return {"rounds_sentences": rounds_sentences}
