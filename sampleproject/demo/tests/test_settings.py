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
    "SAMPLEPROJECT_INTERFACE",
    "DJANGO_MIDDLEWARE_STACK",
    "DJANGO_STATIC_MIDDLEWARE",
    "DATABASE_POOL_MAX_SIZE",
    "DATABASE_POOL_TIMEOUT",
    "DATABASE_CONN_MAX_AGE",
    "DATABASE_HEALTH_CHECKS",
    "UPSTREAM_CLIENT",
    "DJANGO_STATIC_ROOT",
    "DJANGO_FILE_UPLOAD_TEMP_DIR",
)
WHITENOISE = "whitenoise.middleware.WhiteNoiseMiddleware"
SERVESTATIC = "servestatic.middleware.ServeStaticMiddleware"
SYNC_ONLY = "demo.middleware.SyncOnlyMiddleware"
DJANGO_DEFAULT_STACK = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
POSTGRES_URL = "postgres://bench:secret@127.0.0.1:5433/sample"

# Reads settings without django.setup(), so no app (daphne included) needs to be installed.
PROBE = """
import json
from django.conf import settings
names = ["DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "INSTALLED_APPS", "MIDDLEWARE", "DATABASES",
         "UPSTREAM_BASE_URL", "SAMPLEPROJECT_STATE_DIR", "WHITENOISE_USE_FINDERS",
         "SERVESTATIC_USE_FINDERS", "SAMPLEPROJECT_INTERFACE", "MIDDLEWARE_STACK",
         "STATIC_MIDDLEWARE", "UPSTREAM_CLIENT", "STATIC_ROOT", "SERVESTATIC_USE_STATIC_ROOT",
         "FILE_UPLOAD_TEMP_DIR"]
print(json.dumps({name: getattr(settings, name) for name in names}, default=str))
"""


def run_probe(probe: str = PROBE, **variables: str) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name not in VARIANT_VARIABLES}
    env.update(variables, DJANGO_SETTINGS_MODULE="sampleproject.settings")
    return subprocess.run(
        [sys.executable, "-c", probe],
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


def refusal(**variables: str) -> str:
    """The error that stops the settings import with these variables."""
    result = run_probe(**variables)
    assert result.returncode != 0, result.stdout
    assert "ImproperlyConfigured" in result.stderr
    return result.stderr


def test_default_is_production_like_with_whitenoise_and_sqlite():
    values = settings_with()
    assert values["DEBUG"] is False
    assert values["SAMPLEPROJECT_INTERFACE"] == "wsgi"
    assert values["MIDDLEWARE"] == [DJANGO_DEFAULT_STACK[0], WHITENOISE, *DJANGO_DEFAULT_STACK[1:]]
    assert values["WHITENOISE_USE_FINDERS"] is True
    assert values["UPSTREAM_CLIENT"] == "per-request"
    assert "pool" not in values["DATABASES"]["default"].get("OPTIONS", {})
    assert "CONN_MAX_AGE" not in values["DATABASES"]["default"]  # Django's 0: one per request
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
    assert values["MIDDLEWARE"] == DJANGO_DEFAULT_STACK


def test_asgi_serves_static_files_through_servestatic_in_the_same_place():
    values = settings_with(SAMPLEPROJECT_INTERFACE="asgi")
    assert values["STATIC_MIDDLEWARE"] == "servestatic"
    assert values["MIDDLEWARE"] == [DJANGO_DEFAULT_STACK[0], SERVESTATIC, *DJANGO_DEFAULT_STACK[1:]]
    assert values["SERVESTATIC_USE_FINDERS"] is True


def test_daphne_s_runserver_counts_as_asgi_when_no_entry_point_said():
    values = settings_with(DJANGO_RUNSERVER_DAPHNE="1")
    assert values["SAMPLEPROJECT_INTERFACE"] == "asgi"
    assert values["MIDDLEWARE"][1] == SERVESTATIC


@pytest.mark.parametrize(
    ("interface", "chosen", "path"),
    [("wsgi", "servestatic", SERVESTATIC), ("asgi", "whitenoise", WHITENOISE)],
)
def test_the_static_middleware_can_be_chosen_against_the_interface(interface, chosen, path):
    values = settings_with(SAMPLEPROJECT_INTERFACE=interface, DJANGO_STATIC_MIDDLEWARE=chosen)
    assert values["MIDDLEWARE"] == [DJANGO_DEFAULT_STACK[0], path, *DJANGO_DEFAULT_STACK[1:]]


@pytest.mark.parametrize(
    ("module", "interface", "static"),
    [("sampleproject.wsgi", "wsgi", WHITENOISE), ("sampleproject.asgi", "asgi", SERVESTATIC)],
)
def test_each_entry_point_names_its_interface_before_django_reads_the_settings(
    module, interface, static
):
    probe = f"import {module}\n{PROBE}"
    result = run_probe(probe)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["SAMPLEPROJECT_INTERFACE"] == interface
    assert values["MIDDLEWARE"][1] == static


def test_the_none_stack_has_no_middleware_unless_the_sync_one_is_added():
    assert settings_with(DJANGO_MIDDLEWARE_STACK="none")["MIDDLEWARE"] == []
    with_sync = settings_with(DJANGO_MIDDLEWARE_STACK="none", SYNC_MIDDLEWARE="1")
    assert with_sync["MIDDLEWARE"] == [SYNC_ONLY]
    asgi = settings_with(DJANGO_MIDDLEWARE_STACK="none", SAMPLEPROJECT_INTERFACE="asgi")
    assert asgi["MIDDLEWARE"] == []


@pytest.mark.parametrize("dev_mode", ["", "1"])
def test_django_s_system_checks_pass_with_the_none_stack(dev_mode):
    # runserver runs them before it serves: the admin's checks, which require the session,
    # auth and messages middleware, must not stop the bare stack's development servers.
    probe = "import django; django.setup(); from django.core.management import call_command; "
    probe += "call_command('check', fail_level='ERROR')"
    result = run_probe(probe, DJANGO_MIDDLEWARE_STACK="none", DJANGO_DEV_MODE=dev_mode)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "allowed"),
    [
        ("DJANGO_MIDDLEWARE_STACK", "minimal", "production, none"),
        ("DJANGO_STATIC_MIDDLEWARE", "nginx", "whitenoise, servestatic"),
        ("SAMPLEPROJECT_INTERFACE", "rsgi", "wsgi, asgi"),
        ("UPSTREAM_CLIENT", "pooled", "per-request, shared"),
    ],
)
def test_an_unknown_choice_is_refused_with_the_allowed_values(variable, value, allowed):
    error = refusal(**{variable: value})
    assert f"{variable}={value!r} is not one of the allowed values: {allowed}." in error


def test_the_shared_upstream_client_is_chosen_by_its_variable():
    assert settings_with(UPSTREAM_CLIENT="shared")["UPSTREAM_CLIENT"] == "shared"


def test_a_pool_size_gives_django_s_psycopg_pool_of_that_fixed_size():
    database = settings_with(DATABASE_URL=POSTGRES_URL, DATABASE_POOL_MAX_SIZE="8")["DATABASES"][
        "default"
    ]
    assert database["OPTIONS"] == {"pool": {"min_size": 8, "max_size": 8, "timeout": 10.0}}
    assert database["CONN_MAX_AGE"] == 0
    timed = settings_with(
        DATABASE_URL=POSTGRES_URL, DATABASE_POOL_MAX_SIZE="3", DATABASE_POOL_TIMEOUT="2.5"
    )["DATABASES"]["default"]
    assert timed["OPTIONS"]["pool"] == {"min_size": 3, "max_size": 3, "timeout": 2.5}


def test_django_builds_its_psycopg_pool_from_the_settings():
    """Django hands OPTIONS["pool"] to psycopg_pool.ConnectionPool (not opened until used)."""
    probe = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "pool = connection.pool\n"
        "print(type(pool).__module__, pool.min_size, pool.max_size, pool.timeout)"
    )
    result = run_probe(probe, DATABASE_URL=POSTGRES_URL, DATABASE_POOL_MAX_SIZE="5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["psycopg_pool.pool", "5", "5", "10.0"]


def test_health_checks_give_django_s_pool_its_check():
    """With CONN_HEALTH_CHECKS, Django hands psycopg_pool ConnectionPool.check_connection, so
    a connection the database ended is replaced before a request gets it; without, none."""
    probe = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "print(getattr(connection.pool._check, '__name__', connection.pool._check))"
    )
    pooled = {"DATABASE_URL": POSTGRES_URL, "DATABASE_POOL_MAX_SIZE": "2"}
    checked = run_probe(probe, DATABASE_HEALTH_CHECKS="1", **pooled)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.split() == ["check_connection"]
    unchecked = run_probe(probe, **pooled)
    assert unchecked.stdout.split() == ["None"]


def test_persistent_connections_are_the_alternative_to_the_pool():
    database = settings_with(DATABASE_URL=POSTGRES_URL, DATABASE_CONN_MAX_AGE="60")["DATABASES"][
        "default"
    ]
    assert database["CONN_MAX_AGE"] == 60
    assert "pool" not in database.get("OPTIONS", {})
    assert settings_with(DATABASE_CONN_MAX_AGE="0")["DATABASES"]["default"]["CONN_MAX_AGE"] == 0


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {
                "DATABASE_URL": POSTGRES_URL,
                "DATABASE_POOL_MAX_SIZE": "4",
                "DATABASE_CONN_MAX_AGE": "60",
            },
            "DATABASE_POOL_MAX_SIZE and DATABASE_CONN_MAX_AGE are both set",
        ),
        ({"DATABASE_POOL_MAX_SIZE": "4"}, "DATABASE_POOL_MAX_SIZE needs DATABASE_URL (PostgreSQL)"),
        (
            {"DATABASE_URL": POSTGRES_URL, "DATABASE_POOL_TIMEOUT": "5"},
            "DATABASE_POOL_TIMEOUT is set but DATABASE_POOL_MAX_SIZE is not",
        ),
        ({"DATABASE_POOL_MAX_SIZE": "0"}, "DATABASE_POOL_MAX_SIZE='0' must be a whole number >= 1"),
        (
            {"DATABASE_POOL_MAX_SIZE": "eight"},
            "DATABASE_POOL_MAX_SIZE='eight' must be a whole number >= 1",
        ),
        (
            {"DATABASE_POOL_MAX_SIZE": "4", "DATABASE_POOL_TIMEOUT": "nan"},
            "DATABASE_POOL_TIMEOUT='nan' must be a positive number of seconds",
        ),
        (
            {"DATABASE_POOL_MAX_SIZE": "4", "DATABASE_POOL_TIMEOUT": "-1"},
            "DATABASE_POOL_TIMEOUT='-1' must be a positive number of seconds",
        ),
        ({"DATABASE_CONN_MAX_AGE": "-5"}, "DATABASE_CONN_MAX_AGE='-5' must be a whole number >= 0"),
    ],
)
def test_contradictory_or_malformed_connection_settings_are_refused(variables, message):
    assert message in refusal(**variables)


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
        DJANGO_STATIC_ROOT=str(tmp_path / "staticfiles"),
        DJANGO_FILE_UPLOAD_TEMP_DIR=str(tmp_path / "uploads"),
    )
    assert values["ALLOWED_HOSTS"][-2:] == ["example.test", "10.0.0.1"]
    assert values["DATABASES"]["default"]["NAME"] == str(tmp_path / "bench.sqlite3")
    assert values["INSTALLED_APPS"][0] == "daphne"
    assert values["MIDDLEWARE"][-1] == SYNC_ONLY
    assert values["UPSTREAM_BASE_URL"] == "http://127.0.0.1:9000"
    assert values["SAMPLEPROJECT_STATE_DIR"] == str(tmp_path / "state")
    assert values["STATIC_ROOT"] == str(tmp_path / "staticfiles")
    assert values["SERVESTATIC_USE_STATIC_ROOT"] is True
    assert values["FILE_UPLOAD_TEMP_DIR"] == str(tmp_path / "uploads")


def test_without_a_collected_root_the_finders_serve_alone():
    values = settings_with()
    assert (values["STATIC_ROOT"], values["SERVESTATIC_USE_STATIC_ROOT"]) == (None, False)
    assert values["FILE_UPLOAD_TEMP_DIR"] is None


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
