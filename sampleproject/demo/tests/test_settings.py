"""Settings variants chosen by environment variables.

Settings are read once per process, so each variant is imported in a fresh interpreter with
its environment; the helpers they use are also tested directly.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from sampleproject.environment import database_from_url, env_flag, env_list

PROJECT_DIR = Path(__file__).resolve().parents[2]
VARIANT_VARIABLES = (
    "DJANGO_DEV_MODE",
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "SQLITE_PATH",
    "DATABASE_URL",
    "DJANGO_RUNSERVER_DAPHNE",
    "SYNC_MIDDLEWARE",
    "UPSTREAM_BASE_URL",
    "SAMPLEPROJECT_STATE_DIR",
)
WHITENOISE = "whitenoise.middleware.WhiteNoiseMiddleware"
SYNC_ONLY = "demo.middleware.SyncOnlyMiddleware"

# Reads settings without django.setup(), so no app (daphne included) needs to be installed.
PROBE = """
import json
from django.conf import settings
names = ["DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "INSTALLED_APPS", "MIDDLEWARE", "DATABASES",
         "UPSTREAM_BASE_URL", "SAMPLEPROJECT_STATE_DIR", "WHITENOISE_USE_FINDERS"]
print(json.dumps({name: getattr(settings, name) for name in names}, default=str))
"""


def run_probe(**variables: str) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name not in VARIANT_VARIABLES}
    env.update(variables, DJANGO_SETTINGS_MODULE="sampleproject.settings")
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_with(**variables: str) -> dict:
    result = run_probe(**variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_default_is_production_like_with_whitenoise_and_sqlite():
    values = settings_with()
    assert values["DEBUG"] is False
    assert values["MIDDLEWARE"][1] == WHITENOISE
    assert values["WHITENOISE_USE_FINDERS"] is True
    assert SYNC_ONLY not in values["MIDDLEWARE"]
    assert "daphne" not in values["INSTALLED_APPS"]
    assert values["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost", "[::1]", "testserver"]
    assert values["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert values["DATABASES"]["default"]["NAME"] == str(PROJECT_DIR / "db.sqlite3")
    assert values["UPSTREAM_BASE_URL"] == "http://127.0.0.1:8000"
    assert values["SAMPLEPROJECT_STATE_DIR"].endswith("sampleproject-state")


def test_dev_mode_turns_debug_on_and_whitenoise_off():
    values = settings_with(DJANGO_DEV_MODE="1")
    assert values["DEBUG"] is True
    assert WHITENOISE not in values["MIDDLEWARE"]


def test_secret_key_is_random_per_process_unless_given():
    assert settings_with()["SECRET_KEY"] != settings_with()["SECRET_KEY"]
    assert settings_with(DJANGO_SECRET_KEY="given-key")["SECRET_KEY"] == "given-key"


def test_every_other_variable_reaches_its_setting(tmp_path):
    values = settings_with(
        DJANGO_ALLOWED_HOSTS="example.test, 10.0.0.1",
        SQLITE_PATH=str(tmp_path / "bench.sqlite3"),
        DJANGO_RUNSERVER_DAPHNE="1",
        SYNC_MIDDLEWARE="true",
        UPSTREAM_BASE_URL="http://127.0.0.1:9000",
        SAMPLEPROJECT_STATE_DIR=str(tmp_path / "state"),
    )
    assert values["ALLOWED_HOSTS"][-2:] == ["example.test", "10.0.0.1"]
    assert values["DATABASES"]["default"]["NAME"] == str(tmp_path / "bench.sqlite3")
    assert values["INSTALLED_APPS"][0] == "daphne"
    assert values["MIDDLEWARE"][-1] == SYNC_ONLY
    assert values["UPSTREAM_BASE_URL"] == "http://127.0.0.1:9000"
    assert values["SAMPLEPROJECT_STATE_DIR"] == str(tmp_path / "state")


def test_database_url_selects_postgresql():
    values = settings_with(DATABASE_URL="postgres://bench:secret@127.0.0.1:5433/sample")
    database = values["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["HOST"], database["PORT"]) == ("sample", "127.0.0.1", "5433")


def test_unsupported_database_url_stops_with_a_clear_error():
    result = run_probe(DATABASE_URL="mysql://user@host/name")
    assert result.returncode != 0
    assert "DATABASE_URL scheme 'mysql' is not supported" in result.stderr


def test_database_from_url_decodes_credentials_and_allows_a_default_port():
    assert database_from_url("postgresql://us%40er:p%3Ass@db.local/my%20db") == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "my db",
        "USER": "us@er",
        "PASSWORD": "p:ss",
        "HOST": "db.local",
        "PORT": "",
    }


def test_database_from_url_needs_a_database_name():
    with pytest.raises(ImproperlyConfigured, match="no database name"):
        database_from_url("postgres://user:pass@host:5432/")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("TRUE", True), (" yes ", True), ("on", True), ("0", False), ("", False)],
)
def test_env_flag(monkeypatch, value, expected):
    monkeypatch.setenv("SAMPLE_FLAG", value)
    assert env_flag("SAMPLE_FLAG") is expected


def test_env_flag_unset_is_off(monkeypatch):
    monkeypatch.delenv("SAMPLE_FLAG", raising=False)
    assert env_flag("SAMPLE_FLAG") is False


def test_env_list_drops_empty_items(monkeypatch):
    monkeypatch.setenv("SAMPLE_LIST", " a.test,,b.test , ")
    assert env_list("SAMPLE_LIST") == ["a.test", "b.test"]
