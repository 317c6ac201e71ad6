"""The smuggling grid: every input of the request-smuggling check against every configuration,
what each did with it, how bad that is (the input's severity), what happened to the same input
behind nginx, and the inputs on which configurations disagree.

What an input is (title, the RFC's rule, its risk) comes from the check catalog; what a server
did comes from its run's evidence, which is untrusted text: it is only ever shown escaped."""

from __future__ import annotations

from typing import Any

from evidence.vocabulary import FRAMING_CLASSES, FRAMING_SEVERITIES, NGINX_HANDLING
from generators.framing import CHECK_ID, input_severity, recorded_cases
from generators.model import Site

# What the harness calls each way of handling an input, and how the grid shows it. A class the
# generators do not know (a newer harness, a contributed file) is shown as its own text.
CLASSES = dict(
    zip(
        FRAMING_CLASSES,
        [
            "rejected",
            "accepted as specified",
            "no answer",
            "accepted against the RFC",
            "misread",
            "SMUGGLED",
        ],
        strict=True,
    )
)
# Each severity's label and style: the cell's colour follows the severity, not the class.
SEVERITIES = dict(
    zip(
        FRAMING_SEVERITIES,
        [("fine", "sd-yes"), ("lenient", "sd-partial"), ("DESYNC", "sd-no")],
        strict=True,
    )
)
NGINX_REJECTED, NGINX_FORWARDED, NGINX_NO_ANSWER = NGINX_HANDLING
NOT_BEHIND_NGINX = "not measured behind nginx"


def _text(value: Any, limit: int = 400) -> str:
    return str(value)[:limit] if value is not None else ""


def _behind_nginx(result: dict[str, Any]) -> dict[str, Any] | None:
    evidence = result.get("evidence")
    behind = evidence.get("behind_nginx") if isinstance(evidence, dict) else None
    return behind if isinstance(behind, dict) else None


def _nginx_cases(behind: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    if behind is None or behind.get("measured") is not True:
        return {}
    cases = behind.get("cases")
    if not isinstance(cases, list):
        return {}
    return {str(case.get("id")): case for case in cases if isinstance(case, dict)}


def _nginx_cell(case: dict[str, Any] | None) -> dict[str, str] | None:
    """What nginx did with one input, and whether the second client was affected; None when
    the run has no such measurement (its column's behind-nginx row says why)."""
    if case is None:
        return None
    if case.get("affected") is True:
        return {
            "label": "second client AFFECTED",
            "style": "sd-no",
            "detail": _text(case.get("second_detail"), 300),
        }
    handling = case.get("nginx")
    log = case.get("nginx_log")
    said = _text(log[0], 300) if isinstance(log, list) and log else _text(case.get("detail"))
    if handling == NGINX_REJECTED:
        return {"label": "nginx rejected it", "style": "sd-yes", "detail": said}
    if handling == NGINX_FORWARDED:
        return {
            "label": "forwarded; second client unaffected",
            "style": "sd-yes",
            "detail": _text(case.get("detail"), 300),
        }
    if handling == NGINX_NO_ANSWER:
        return {"label": "nginx gave no answer", "style": "sd-partial", "detail": said}
    return {"label": _text(handling, 40), "style": "", "detail": said}


def _cell(
    case: dict[str, Any] | None, risk: str | None, nginx: dict[str, Any] | None
) -> dict[str, Any] | None:
    if case is None:
        return None
    kind = _text(case.get("class"), 40)
    severity, derived = input_severity(case, risk)
    label, style = SEVERITIES.get(severity or "", (_text(severity, 40), ""))
    return {
        "class": kind,
        "label": CLASSES.get(kind, kind),
        "severity": severity,
        "severity_label": label,
        "style": style,
        "derived": derived,
        "detail": _text(case.get("detail")),
        "nginx": nginx,
    }


def _nginx_summary(behind: dict[str, Any] | None) -> dict[str, str]:
    """One server's behind-nginx column head: what nginx did with the inputs, in counts."""
    if behind is None:
        return {"label": NOT_BEHIND_NGINX, "style": "", "detail": "run made before this variant"}
    if behind.get("measured") is not True:
        return {"label": NOT_BEHIND_NGINX, "style": "", "detail": _text(behind.get("reason"))}
    cases = list(_nginx_cases(behind).values())
    count = {kind: sum(case.get("nginx") == kind for case in cases) for kind in NGINX_HANDLING}
    affected = [_text(case.get("id"), 60) for case in cases if case.get("affected") is True]
    said = (
        f"nginx {_text(behind.get('nginx_version'), 20)}: rejected {count[NGINX_REJECTED]}, "
        f"forwarded {count[NGINX_FORWARDED]}, no answer {count[NGINX_NO_ANSWER]} of "
        f"{len(cases)}"
    )
    if affected:
        return {
            "label": f"second client affected after {len(affected)}",
            "style": "sd-no",
            "detail": f"{said}; affected after {', '.join(affected)}",
        }
    return {"label": "no second client affected", "style": "sd-yes", "detail": said}


def smuggling_grid(site: Site) -> dict[str, Any] | None:
    """Rows (one per input, in the catalog's order) of cells (one per configuration that ran
    the check), and per configuration its outcome and its behind-nginx summary; None when no
    shown run has the check."""
    check = next((check for check in site.checks if check["id"] == CHECK_ID), None)
    if check is None:
        return None
    measured = [
        (run, result, {str(case.get("id")): case for case in recorded_cases(result)})
        for run in site.runs
        if (result := site.result(run, CHECK_ID)) is not None
    ]
    nginx = [_nginx_cases(_behind_nginx(result)) for _, result, _ in measured]
    rows = []
    for case in check["cases"]:
        cells = [
            _cell(cases.get(case["id"]), case.get("risk"), _nginx_cell(nginx_cases.get(case["id"])))
            for (_, _, cases), nginx_cases in zip(measured, nginx, strict=True)
        ]
        classes = {cell["class"] for cell in cells if cell is not None}
        sent = next(
            (
                _text(cases[case["id"]].get("sent"), 2000)
                for _, _, cases in measured
                if case["id"] in cases
            ),
            "",
        )
        rows.append({"case": case, "cells": cells, "disagree": len(classes) > 1, "sent": sent})
    return {
        "check": check,
        "servers": [run["server"] for run, _, _ in measured],
        "outcomes": [
            {
                "outcome": result["outcome"],
                "summary": _text(result.get("summary"), 2000),
                # Judged before severities were recorded: by the earlier rule.
                "earlier_rule": any("severity" not in case for case in recorded_cases(result)),
            }
            for _, result, _ in measured
        ],
        "behind_nginx": [_nginx_summary(_behind_nginx(result)) for _, result, _ in measured],
        "rows": rows,
        "disagreements": sum(row["disagree"] for row in rows),
        "desync_risk": sum(case.get("risk") == "desync" for case in check["cases"]),
        "classes": CLASSES,
    }
