"""The static-files check against the sample project's real application (WhiteNoise under a
tiny WSGI server that passes or drops the Range header; ServeStatic under a tiny ASGI server,
with the WhiteNoise variant that makes Django warn), and its verdicts from probes alone."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from evidence.schema import load_schema
from harness.checks import run_check
from harness.checks.operations import static_files, static_probes
from harness.checks.operations.static_files import judge
from harness.definitions import load_definitions
from harness.environments import Environment
from harness.launcher import Launcher
from harness.network import make_tls_material
from harness.profiles import PROFILES
from tests.checks.project_servers import assert_valid_in_a_run, started

FEW_REQUESTS = 5  # for the cost figures: the tests judge no timing


@pytest.fixture(autouse=True)
def few_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(static_files, "COST_REQUESTS", FEW_REQUESTS)
    monkeypatch.setattr(static_probes, "COST_WARMUP", 1)


def test_whitenoise_under_a_wsgi_server_that_passes_every_header_is_yes(tmp_path: Path) -> None:
    with started("wsgi", "streams", tmp_path) as context:
        result = run_check(static_files.CHECK, context)
    assert result["outcome"] == "yes", result["summary"]
    evidence = result["evidence"]
    assert evidence["whole"]["served_by"] == "django"
    assert evidence["whole"]["bytes"] == evidence["file_bytes"] == 1024 * 1024
    assert evidence["range"]["status"] == 206 and evidence["range_past_end"]["status"] == 416
    assert evidence["revalidation"]["not_modified"] is True
    assert evidence["cost"]["static"]["median_ms"] is not None
    assert evidence["cost"]["dynamic"]["url_path"] == "/json/sync"
    assert evidence["variants"] == []  # the ASGI variant only
    assert_valid_in_a_run(result)


def test_a_server_that_drops_the_range_header_is_partial_and_its_own_doing(
    tmp_path: Path,
) -> None:
    with started("wsgi", "drops-range", tmp_path) as context:
        result = run_check(static_files.CHECK, context)
    assert result["outcome"] == "partial", result["summary"]
    assert result["cause"] == "server"
    assert "a Range got HTTP 200" in result["summary"]
    assert "a Range past the end got HTTP 200" in result["summary"]
    assert_valid_in_a_run(result)


def test_servestatic_under_asgi_is_yes_and_whitenoise_there_makes_django_warn(
    tmp_path: Path,
) -> None:
    with started("asgi", "signals", tmp_path) as context:
        result = run_check(static_files.CHECK, context)
    assert result["outcome"] == "yes", result["summary"]
    assert result["evidence"]["warned"] is False
    assert result["evidence"]["cost"]["dynamic"]["url_path"] == "/json/async"
    (variant,) = result["evidence"]["variants"]
    assert variant["id"] == "whitenoise-under-asgi"
    assert variant["outcome"] == "partial", variant["summary"]
    assert variant["warned"] is True
    assert variant["whole"]["correct"] is True  # right bytes, read whole first
    assert "Django warned" in variant["summary"]
    assert "DJANGO_STATIC_MIDDLEWARE=whitenoise: partial; served" in result["summary"]
    assert_valid_in_a_run(result)


def test_without_a_collected_file_the_check_says_so(tmp_path: Path) -> None:
    with started("wsgi", "streams", tmp_path, collect=False) as context:
        result = run_check(static_files.CHECK, context)
    assert result["outcome"] == "error"
    assert "no collected static file" in result["summary"]


def _found(**changes: object) -> dict:
    headers = {
        "content-type": 'text/css; charset="utf-8"',
        "cache-control": "max-age=60, public",
        "etag": '"abc"',
        "referrer-policy": "same-origin",
    }
    found = {
        "whole": {"status": 200, "bytes": 10, "correct": True, "served_by": "django",
                  "headers": headers},
        "range": {"status": 206, "correct": True},
        "range_past_end": {"status": 416, "correct": True},
        "warned": False,
        "cost": {"static": {"median_ms": 2.0, "reason": None},
                 "dynamic": {"median_ms": 1.0, "reason": None}},
    }  # fmt: skip
    found.update(changes)
    return found


def test_the_buffering_warning_is_the_project_s_doing() -> None:
    outcome, summary, cause, detail = judge(_found(warned=True))
    assert "Django warned" in summary
    assert (outcome, cause) == ("partial", "project")
    assert "DJANGO_STATIC_MIDDLEWARE" in detail


def test_wrong_bytes_are_no_and_missing_caching_headers_of_a_server_mount_are_its_own() -> None:
    wrong = _found(whole={"status": 200, "bytes": 9, "correct": False})
    assert judge(wrong)[0] == "no"
    bare = {"content-type": "text/css"}
    mount = _found(whole={"status": 200, "bytes": 10, "correct": True, "served_by": "server",
                          "headers": bare})  # fmt: skip
    outcome, summary, cause, _ = judge(mount)
    assert (outcome, cause) == ("partial", "server")
    assert "no Cache-Control" in summary and "no ETag or Last-Modified" in summary
    assert judge(_found())[0] == "yes"


def test_the_evidence_schema_has_a_block_for_the_check() -> None:
    block = load_schema("check-evidence")["$defs"]["checks"]["static-files"]
    assert {"whole", "range", "range_past_end", "cost", "warned", "variants"} <= set(
        block["properties"]
    )


def test_a_static_mount_option_is_given_the_collected_root(tmp_path: Path) -> None:
    """The options add only the server's static flags, and {static_root} becomes the STATIC_ROOT
    the harness collected (which Django is told of too); without one, Django is told nothing."""
    definitions = load_definitions()
    flags = {
        "granian-asgi": {"static-mount": ["--static-path-mount", "{static_root}"]},
        "granian-wsgi": {"static-mount": ["--static-path-mount", "{static_root}"]},
        "uwsgi-threads": {
            "static-map": ["--static-map", "/static={static_root}"],
            "static-map-range": ["--static-map", "/static={static_root}", "--honour-range"],
        },
        "uwsgi-gevent": {
            "static-map": ["--static-map", "/static={static_root}"],
            "static-map-range": ["--static-map", "/static={static_root}", "--honour-range"],
        },
    }
    for server_id, options in flags.items():
        definition = definitions[server_id]
        assert {o.id for o in definition.options_for("static-files")} == set(options)
        for option_id, added in options.items():
            tried = list(definition.with_option(option_id).commands["http"])
            assert tried == [*definition.commands["http"], *added], (server_id, option_id)
    granian = definitions["granian-asgi"].with_option("static-mount")
    environment = Environment(Path(sys.prefix), "synthetic", {})
    tls = make_tls_material(tmp_path / "tls")
    root = tmp_path / "staticfiles"
    launcher = Launcher(granian, environment, tmp_path, PROFILES["quick"], tls, static_root=root)
    assert launcher.command("http", 8000)[-2:] == ["--static-path-mount", str(root)]
    assert launcher.command("http", 8000, shown=True)[-1] == "{static_root}"
    assert launcher.variables(False, {})["DJANGO_STATIC_ROOT"] == str(root)
    bare = Launcher(granian, environment, tmp_path, PROFILES["quick"], tls)
    assert "DJANGO_STATIC_ROOT" not in bare.variables(False, {})
