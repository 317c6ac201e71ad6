"""The account the workers of a server that refuses root run as (mod_wsgi-express): which
definitions need one, what it is, and which directories it cannot enter."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from harness.definitions import load_definitions
from harness.process_registry import scratch_folder
from harness.worker_account import (
    UNPRIVILEGED_USER,
    hand_over,
    runs_as_account,
    unreachable_parts,
    worker_account,
)

DEFINITIONS = load_definitions()
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the account switches only under root")


def test_only_a_definition_that_names_the_account_runs_as_one() -> None:
    named = {d.id for d in DEFINITIONS.values() if runs_as_account(d)}
    assert named == {"mod-wsgi-express"}


@as_root
def test_under_root_the_workers_run_as_the_web_server_account() -> None:
    assert worker_account() == (UNPRIVILEGED_USER, UNPRIVILEGED_USER)


@as_root
def test_a_closed_directory_on_the_way_is_named_until_it_is_handed_over() -> None:
    with scratch_folder("serving-django-test-account-") as closed:  # made 0700, by root
        inner = closed / "inner"
        inner.mkdir()
        assert unreachable_parts(inner) == [closed]
        hand_over(closed)
        assert inner.stat().st_uid == pwd.getpwnam(UNPRIVILEGED_USER).pw_uid
        assert unreachable_parts(inner) == []
    assert unreachable_parts(Path("/usr/bin")) == []
