"""The smuggling grid: every input of the request-smuggling check against every configuration,
what each did with it, and the inputs on which configurations disagree.

What an input is (title, the RFC's rule) comes from the check catalog; what a server did comes
from its run's evidence, which is untrusted text: it is only ever shown escaped."""

from __future__ import annotations

from typing import Any

from evidence.vocabulary import FRAMING_CLASSES
from generators.model import Site

CHECK_ID = "request-smuggling"

# What the harness calls each way of handling an input, and how the grid shows it. A class the
# generators do not know (a newer harness, a contributed file) is shown as its own text.
CLASSES = dict(
    zip(
        FRAMING_CLASSES,
        [
            ("rejected", "sd-yes"),
            ("accepted as specified", "sd-yes"),
            ("no answer", "sd-partial"),
            ("lenient: accepted", "sd-partial"),
            ("misread", "sd-partial"),
            ("SMUGGLED", "sd-no"),
        ],
        strict=True,
    )
)


def _text(value: Any, limit: int = 400) -> str:
    return str(value)[:limit] if value is not None else ""


def _measured_cases(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    evidence = result.get("evidence")
    cases = evidence.get("cases") if isinstance(evidence, dict) else None
    if not isinstance(cases, list):
        return {}
    return {str(case.get("id")): case for case in cases if isinstance(case, dict)}


def _cell(case: dict[str, Any] | None) -> dict[str, str] | None:
    if case is None:
        return None
    kind = _text(case.get("class"), 40)
    label, style = CLASSES.get(kind, (kind, ""))
    return {"class": kind, "label": label, "style": style, "detail": _text(case.get("detail"))}


def smuggling_grid(site: Site) -> dict[str, Any] | None:
    """Rows (one per input, in the catalog's order) of cells (one per configuration that ran
    the check); None when no shown run has the check."""
    check = next((check for check in site.checks if check["id"] == CHECK_ID), None)
    if check is None:
        return None
    measured = [
        (run, _measured_cases(result))
        for run in site.runs
        if (result := site.result(run, CHECK_ID)) is not None
    ]
    rows = []
    for case in check["cases"]:
        cells = [_cell(cases.get(case["id"])) for _, cases in measured]
        classes = {cell["class"] for cell in cells if cell is not None}
        sent = next(
            (
                _text(cases[case["id"]].get("sent"), 2000)
                for _, cases in measured
                if case["id"] in cases
            ),
            "",
        )
        rows.append({"case": case, "cells": cells, "disagree": len(classes) > 1, "sent": sent})
    return {
        "check": check,
        "servers": [run["server"] for run, _ in measured],
        "rows": rows,
        "disagreements": sum(row["disagree"] for row in rows),
        "classes": CLASSES,
    }
