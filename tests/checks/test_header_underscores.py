"""The header-underscores check against the sample project's real Django application, served
by tiny WSGI servers that merge, drop, refuse or rank underscore headers and tiny ASGI servers
that pass their names on or hyphenate them (tests/apps/underscore_wsgi.py, underscore_asgi.py),
and its cause from records alone."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from evidence.schema import load_schema
from harness.checks import CheckContext, run_check
from harness.checks.hazards import CHECKS as HAZARDS
from harness.checks.hazards import header_underscores
from harness.checks.hazards.header_underscores import (
    DROPPED,
    HYPHEN_ONLY,
    JOINED,
    PROXY_ADDRESS,
    REFUSED,
    SET,
    cause_of,
)
from tests import synthetic
from tests.checks.project_servers import assert_valid_in_a_run, project_server

APPS = Path(__file__).parents[1] / "apps"
SERVERS = {"wsgi": APPS / "underscore_wsgi.py", "asgi": APPS / "underscore_asgi.py"}
(CHECK,) = header_underscores.CHECKS
CLAIMED = header_underscores.CLAIMED_ADDRESS

Run = Callable[[str, str], dict[str, Any]]


@pytest.fixture
def checked(tmp_path: Path) -> Iterator[Run]:
    """Run the check against a tiny server of an interface in a mode around the real project,
    started the way the harness starts servers; the result is validated as a run's would be."""
    with ExitStack() as stack:

        def run(interface: str, mode: str) -> dict[str, Any]:
            definition = synthetic.definition(
                f"underscores-{interface}-{mode}",
                interface=interface,
                commands={"http": (sys.executable, str(SERVERS[interface]), "{port}", mode)},
            )
            scratch = tmp_path / f"{interface}-{mode}"
            scratch.mkdir()
            result = run_check(CHECK, project_server(stack, definition, scratch))
            assert_valid_in_a_run(result)
            return result

        yield run


def readings(result: dict[str, Any]) -> dict[str, str]:
    return {probe["id"]: probe["reading"] for probe in result["evidence"]["probes"]}


def meta_values(result: dict[str, Any]) -> dict[str, str | None]:
    return {probe["id"]: probe["meta_value"] for probe in result["evidence"]["probes"]}


def test_the_check_is_a_production_hazard() -> None:
    assert CHECK in HAZARDS
    assert CHECK.id == "header-underscores"


def test_the_schema_names_every_reading_the_check_writes() -> None:
    probe = load_schema("check-evidence")["$defs"]["checks"][CHECK.id]["properties"]["probes"]
    assert probe["items"]["properties"]["reading"]["enum"] == list(header_underscores.READINGS)


def test_a_wsgi_server_that_merges_names_lets_an_underscore_header_join_the_proxys(
    checked: Run,
) -> None:
    result = checked("wsgi", "merges")
    assert result["outcome"] == "no", result["summary"]
    assert result["cause"] == "server"
    assert readings(result) == {
        "hyphenated": SET,
        "for": SET,
        "proto": SET,
        "host": SET,
        "underscore-last": JOINED,
        "underscore-first": JOINED,
        "general": SET,
    }
    values = meta_values(result)
    assert values["underscore-last"] == f"{PROXY_ADDRESS},{CLAIMED}"  # in the order sent
    assert values["underscore-first"] == f"{CLAIMED},{PROXY_ADDRESS}"
    assert values["proto"] == "https"
    assert "Foo_Bar: reached META as HTTP_FOO_BAR" in result["summary"]


def test_a_wsgi_server_that_drops_underscore_names_passes(checked: Run) -> None:
    result = checked("wsgi", "drops")
    assert result["outcome"] == "yes", result["summary"]
    found = readings(result)
    assert [found[probe] for probe in ("for", "proto", "host", "general")] == [DROPPED] * 4
    assert found["underscore-last"] == found["underscore-first"] == HYPHEN_ONLY
    assert meta_values(result)["underscore-last"] == PROXY_ADDRESS
    assert "X_Forwarded_Host was dropped" in result["summary"]


def test_a_wsgi_server_that_refuses_underscore_names_passes(checked: Run) -> None:
    result = checked("wsgi", "refuses")
    assert result["outcome"] == "yes", result["summary"]
    found = readings(result)
    assert found.pop("hyphenated") == SET
    assert set(found.values()) == {REFUSED}
    assert "was refused (400)" in result["summary"]


def test_a_server_where_the_hyphenated_name_wins_is_partial(checked: Run) -> None:
    result = checked("wsgi", "prefers-hyphen")
    assert result["outcome"] == "partial", result["summary"]
    assert result["cause"] == "server"
    found = readings(result)
    assert (found["for"], found["underscore-last"], found["underscore-first"]) == (
        SET,
        HYPHEN_ONLY,
        HYPHEN_ONLY,
    )


def test_a_server_that_hides_forwarded_headers_and_drops_underscore_names_passes(
    checked: Run,
) -> None:
    result = checked("wsgi", "clears-forwarded")
    assert result["outcome"] == "yes", result["summary"]
    assert set(readings(result).values()) == {DROPPED}
    assert "X-Forwarded-For: 198.51.100.1 alone was dropped too" in result["summary"]


def test_a_hidden_control_cannot_be_read_where_underscore_names_reach_meta(checked: Run) -> None:
    result = checked("wsgi", "merges-clears-forwarded")
    assert result["outcome"] == "error", result["summary"]
    assert readings(result)["general"] == SET
    assert "cannot be read" in result["summary"]


def test_django_keeps_an_underscore_name_of_the_asgi_scope_out_of_meta(checked: Run) -> None:
    # Django 6.1 (sampleproject/requirements.txt) skips scope names with underscores.
    result = checked("asgi", "raw")
    assert result["outcome"] == "yes", result["summary"]
    probes = {probe["id"]: probe for probe in result["evidence"]["probes"]}
    assert "x_forwarded_for" in probes["for"]["scope_names"]
    assert probes["for"]["reading"] == DROPPED
    assert probes["underscore-last"]["reading"] == HYPHEN_ONLY


def test_an_asgi_server_that_hyphenates_names_is_the_cause(checked: Run) -> None:
    result = checked("asgi", "hyphenates")
    assert result["outcome"] == "no", result["summary"]
    assert result["cause"] == "server"
    probes = {probe["id"]: probe for probe in result["evidence"]["probes"]}
    assert probes["for"]["scope_names"].count("x-forwarded-for") == 1
    assert probes["underscore-last"]["scope_names"].count("x-forwarded-for") == 2
    assert probes["underscore-last"]["reading"] == JOINED  # Django joined the two fields


def test_a_server_without_the_echo_view_is_an_error_not_a_pass(tmp_path: Path) -> None:
    definition = synthetic.definition(
        "no-echo",
        commands={"http": (sys.executable, str(APPS / "tiny_http.py"), "{port}", "threaded")},
    )
    with ExitStack() as stack:
        result = run_check(CHECK, project_server(stack, definition, tmp_path))
    assert result["outcome"] == "error", result["summary"]
    assert "X-Forwarded-For" in result["summary"]


def _context(interface: str) -> CheckContext:
    server = synthetic.definition(f"cause-{interface}", interface=interface)
    return CheckContext(server, {}, None, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("interface", "names", "cause"),
    [
        ("asgi", ["host", "x-forwarded-for", "x_forwarded_for"], "django"),
        ("asgi", ["host", "x-forwarded-for", "x-forwarded-for"], "server"),
        ("wsgi", None, "server"),
    ],
)
def test_the_cause_is_djangos_only_where_the_scope_kept_the_underscore_name(
    interface: str, names: list[str] | None, cause: str
) -> None:
    found, detail = cause_of(_context(interface), [{"scope_names": names}])
    assert found == cause
    assert ("django/core/handlers/asgi.py" in detail) == (cause == "django")
