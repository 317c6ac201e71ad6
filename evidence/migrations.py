"""Upgrade older data files as they are read: one small named step per version (asv's
``update_to_N`` and pyperf's format history are the models). A step changes the shape only;
every value recorded in the older file survives, moved to where the newer version keeps it.

Files on disk are never rewritten: evidence is immutable, and the upgrade is repeated at every
read.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from evidence.files import DataError

_V1_FLAG = re.compile(r"^(?P<metric>.+): CV (?P<cv>[0-9.]+) % > (?P<limit>[0-9.]+) %$")
# Schema version 1 stored no settings. Every version-1 benchmark file committed here came from
# a clean checkout (git_dirty false) at one of these commits, with the "standard" profile; the
# values are harness/benchmarks/settings.py's BENCHMARK_SETTINGS["standard"] and
# harness/benchmarks/measurement.py's CV_FLAG_PERCENT at that commit, read with `git show`.
_STANDARD_AT_C574E9E = {
    "repeats": 3,
    "max_repeats": 5,
    "warmup_s": 0.5,
    "duration_s": 1.5,
    "clients": [1, 200, 500],
    "other_endpoint_clients": [200],
    "other_protocol_clients": [200],
    "other_protocol_endpoints": ["json_sync"],
    "fixed_rate_fraction": 0.5,
    "fixed_rate_duration_s": 2.0,
    "idle_bound": 200,
    "idle_open_deadline_s": 3,
    "idle_hold_s": 1,
    "polls_steps": [[50, 3.0], [150, 3.0], [300, 3.0]],
    "upstream_steps": [[10, 3.0], [50, 3.0], [100, 3.0]],
    "locust_timeout_s": 5,
    "calibration_duration_s": 2.0,
    "cv_flag_percent": 10.0,
}
_STANDARD_AT_BECC405 = {
    **_STANDARD_AT_C574E9E,
    "max_repeats": 4,
    "fixed_rate_duration_s": 1.5,
    "idle_bound": 100,
    "idle_open_deadline_s": 2,
    "idle_hold_s": 0.5,
    "polls_steps": [[50, 2.0], [150, 2.0], [300, 2.0]],
    "upstream_steps": [[10, 2.0], [50, 2.0], [100, 2.0]],
}
_STANDARD_AT_8501A51 = {
    **_STANDARD_AT_BECC405,
    "warmup_s": 0.3,
    "duration_s": 1.0,
    "fixed_rate_duration_s": 1.0,
    "idle_open_deadline_s": 1.5,
    "polls_steps": [[100, 2.0], [300, 2.0], [700, 2.0]],
}
V1_SETTINGS = {
    ("c574e9e759224fd526cb03117178810c30927404", "standard"): _STANDARD_AT_C574E9E,
    ("becc4052690a2aa438ff28dda9dd51875d1c00ea", "standard"): _STANDARD_AT_BECC405,
    ("8501a51963ab23a9affc4260fd8b0dcad474a81f", "standard"): _STANDARD_AT_8501A51,
    ("e002038433a8d2b74e1e019c2bbe766898734740", "standard"): _STANDARD_AT_8501A51,
    ("236b94076744a034f24d1d3211d38380594b4338", "standard"): _STANDARD_AT_8501A51,
}


def _v1_flag(text: str, where: str) -> dict[str, Any]:
    match = _V1_FLAG.match(text)
    if match is None:
        raise DataError(f"{where}: {text!r} is not a version-1 CV flag ('<metric>: CV x % > y %')")
    return {
        "metric": match["metric"],
        "cv_percent": float(match["cv"]),
        "threshold_percent": float(match["limit"]),
    }


def _v1_settings(document: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    provenance = document.get("provenance") or {}
    commit, profile = provenance.get("git_commit"), document.get("profile")
    known = V1_SETTINGS.get((commit, profile))
    if known is not None and provenance.get("git_dirty") is False:
        return copy.deepcopy(known), (
            f"schema version 1 stored no settings: these are the {profile} profile's "
            f"settings in the harness code at commit {str(commit)[:12]}, which measured it"
        )
    return None, (
        "not recorded: schema version 1 stored no settings, and the code that measured this "
        f"file (commit {commit}, profile {profile!r}"
        f"{', uncommitted changes' if provenance.get('git_dirty') else ''}) is not one whose "
        "settings are known"
    )


def update_to_2(document: dict[str, Any], kind: str, where: str) -> dict[str, Any]:
    """Version 1 -> 2.

    - run: each check's ``question``, ``thresholds`` and ``timed`` move out of its free-form
      ``evidence`` into fields of their own;
    - benchmark: ``settings`` (how the figures were measured) and ``settings_source`` are added;
      each CV flag becomes ``{metric, cv_percent, threshold_percent}`` instead of a sentence;
    - machine: no change but the version.
    """
    upgraded = copy.deepcopy(document)
    upgraded["schema_version"] = 2
    if kind == "run":
        for check in upgraded.get("checks") or []:
            evidence = check.get("evidence") or {}
            check["question"] = str(evidence.pop("question", "") or "(not recorded)")
            check["thresholds"] = str(evidence.pop("thresholds", ""))
            check["timed"] = evidence.pop("timed", None)  # absent before timed checks existed
    elif kind == "benchmark":
        upgraded["settings"], upgraded["settings_source"] = _v1_settings(upgraded)
        for index, figure in enumerate(upgraded.get("results") or []):
            figure["flags"] = [
                _v1_flag(text, f"{where}: results/{index}/flags")
                for text in figure.get("flags") or []
            ]
    return upgraded


# version N -> the step that upgrades a version-N document to N + 1
STEPS = {1: update_to_2}
