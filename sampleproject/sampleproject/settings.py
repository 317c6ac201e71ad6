"""Settings of the Serving Django sample project.

One project; every variant the harness measures is chosen by environment variables, read once
when this module is imported. Unset, they give the production setup (the methodology page's
"Production setup" section gives the reason for each; sampleproject/production_setup.toml
lists its middleware with the flags Django reads from each class). A value outside the
allowed ones stops the import with ImproperlyConfigured naming the variable.

SAMPLEPROJECT_INTERFACE=wsgi|asgi
    Which interface serves this process. Set by wsgi.py and asgi.py before Django's setup
    (``os.environ.setdefault``), so nobody sets it by hand; ``manage.py runserver`` loads the
    settings first, so unset it means WSGI, or ASGI with DJANGO_RUNSERVER_DAPHNE (Daphne's
    runserver). It chooses the default static-files middleware.
DJANGO_MIDDLEWARE_STACK=production|none
    production (default): Django's default stack as ``startproject`` writes it (Security,
    Sessions, Common, Csrf, Authentication, Messages, XFrameOptions) with the static-files
    middleware right after SecurityMiddleware, where its docs place it. none: no middleware
    at all, to measure the server apart from Django's middleware (no static files, and no
    admin: its system checks, which require that middleware, are silenced so that runserver
    starts).
DJANGO_STATIC_MIDDLEWARE=whitenoise|servestatic
    The static-files middleware of the production stack. Default by interface: WhiteNoise
    (sync-only) under WSGI, ServeStatic (its async-only fork) under ASGI, so neither interface
    pays an adapter around it. Both read the app static directories through the finders
    (WHITENOISE_USE_FINDERS, SERVESTATIC_USE_FINDERS), so no ``collectstatic`` is needed.
DJANGO_DEV_MODE=1
    DEBUG=True and no static-files middleware: static files are served only the way Django's
    development tools do (``runserver``'s static handler), so under any other server /static/
    is a 404. Unset: DEBUG=False.
SYNC_MIDDLEWARE=1
    Add demo.middleware.SyncOnlyMiddleware, a sync-only middleware, innermost in whichever
    stack, to measure what one such middleware costs on an async stack.
DJANGO_SECRET_KEY
    The secret key. Unset: a random key per process, so nothing secret is ever committed. Set it
    when several worker processes must agree on signatures (sessions, signed cookies).
DJANGO_ALLOWED_HOSTS
    Comma-separated hosts added to 127.0.0.1, localhost, [::1] and testserver.
SQLITE_PATH
    The SQLite database file (default: db.sqlite3 beside manage.py).
DATABASE_URL
    ``postgres://user:pass@host:port/name``: use PostgreSQL through psycopg instead of SQLite.
DATABASE_POOL_MAX_SIZE=N
    With DATABASE_URL: Django's psycopg connection pool, a fixed N connections per process
    (min_size = max_size = N) and CONN_MAX_AGE=0, which the pool requires. Unset: no pool, a
    new connection per request (Django's default; the "unpooled" variant).
DATABASE_POOL_TIMEOUT=S
    Seconds a request waits for a free pooled connection before psycopg_pool gives up
    (default 10). Only with DATABASE_POOL_MAX_SIZE.
DATABASE_HEALTH_CHECKS=1
    Django's CONN_HEALTH_CHECKS: a kept connection (persistent, or the pool's: Django then
    gives psycopg_pool its ``check``) is tested before a request reuses it, so one that the
    database ended (idle_session_timeout, a proxy's idle timeout) is replaced, not failed.
DATABASE_CONN_MAX_AGE=N
    Persistent connections instead of a pool: CONN_MAX_AGE=N seconds (0 closes each at the
    end of its request). Refused together with DATABASE_POOL_MAX_SIZE. Django's docs advise
    against persistent connections under ASGI.
DJANGO_RUNSERVER_DAPHNE=1
    Put "daphne" first in INSTALLED_APPS so ``manage.py runserver`` serves ASGI. Only that
    server's environment has daphne installed; nothing imports it otherwise.
UPSTREAM_BASE_URL
    Base URL of the slow "external API" that the /upstream/* views call
    (default http://127.0.0.1:8000, the project itself under runserver).
UPSTREAM_CLIENT=per-request|shared
    per-request (default): each /upstream/* request builds its own httpx client, as the
    article's code does. shared: one client per process (demo/upstream.py), the variant that
    shows how much of the cost is making clients.
DJANGO_STATIC_ROOT
    STATIC_ROOT, where ``manage.py collectstatic`` puts the static files (the harness collects
    them into its scratch directory when it prepares a server, and ``manage.py
    make_large_static`` adds a 1 MiB stylesheet there). Set, WhiteNoise and ServeStatic serve
    its files as well as the finders' (and a server's own static mount can serve it). Unset: no
    STATIC_ROOT, the finders alone.
DJANGO_FILE_UPLOAD_TEMP_DIR
    FILE_UPLOAD_TEMP_DIR, the existing directory where Django writes an upload larger than
    FILE_UPLOAD_MAX_MEMORY_SIZE while it parses it (the large-upload check counts the files
    there). Unset: the system's temporary directory, Django's default.
SAMPLEPROJECT_EXIT_VIEW=1
    /process/exit ends the process that runs it (``os._exit(1)``) in the middle of its request,
    as a crash would: only for the worker-exit check's own instance. Unset: it answers 404.
SAMPLEPROJECT_STATE_DIR
    Directory where the /sse views append stream lifecycle records (sse-events.jsonl, see
    demo/sse_log.py) and the /disconnect/* views theirs (disconnects.jsonl, see
    demo/disconnect_log.py). Default: <system temp dir>/sampleproject-state.

Flags accept 1/true/yes/on.
"""

import os
import tempfile
from pathlib import Path

from django.core.management.utils import get_random_secret_key

from sampleproject.environment import (
    database_from_url,
    env_choice,
    env_flag,
    env_int,
    env_list,
    env_seconds,
    sqlite_database,
    with_connection_handling,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEV_MODE = env_flag("DJANGO_DEV_MODE")
DEBUG = DEV_MODE
EXIT_VIEW = env_flag("SAMPLEPROJECT_EXIT_VIEW")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or get_random_secret_key()

ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver", *env_list("DJANGO_ALLOWED_HOSTS")]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "demo",
    "polls",
]
if env_flag("DJANGO_RUNSERVER_DAPHNE"):
    # Daphne replaces the runserver command only when it comes before django.contrib.staticfiles.
    INSTALLED_APPS.insert(0, "daphne")

SAMPLEPROJECT_INTERFACE = env_choice(
    "SAMPLEPROJECT_INTERFACE",
    ("wsgi", "asgi"),
    default="asgi" if env_flag("DJANGO_RUNSERVER_DAPHNE") else "wsgi",
)
MIDDLEWARE_STACK = env_choice("DJANGO_MIDDLEWARE_STACK", ("production", "none"), "production")
STATIC_MIDDLEWARE = env_choice(
    "DJANGO_STATIC_MIDDLEWARE",
    ("whitenoise", "servestatic"),
    default="servestatic" if SAMPLEPROJECT_INTERFACE == "asgi" else "whitenoise",
)
STATIC_MIDDLEWARE_PATHS = {
    "whitenoise": "whitenoise.middleware.WhiteNoiseMiddleware",
    "servestatic": "servestatic.middleware.ServeStaticMiddleware",
}

if MIDDLEWARE_STACK == "production":
    # Django's default stack, as `django-admin startproject` writes it.
    MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ]
    if not DEV_MODE:
        # Where both document it: right after SecurityMiddleware.
        MIDDLEWARE.insert(1, STATIC_MIDDLEWARE_PATHS[STATIC_MIDDLEWARE])
else:
    MIDDLEWARE = []
    # The admin's system checks require the session, auth and messages middleware; without
    # them runserver (which runs the checks) refuses to start. The bare stack measures the
    # server, not the admin, which is not usable in it and is never requested then.
    SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410"]
if env_flag("SYNC_MIDDLEWARE"):
    # Innermost, so every request crosses between the async handler and a sync call here.
    MIDDLEWARE.append("demo.middleware.SyncOnlyMiddleware")

ROOT_URLCONF = "sampleproject.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "sampleproject.wsgi.application"
ASGI_APPLICATION = "sampleproject.asgi.application"

CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

if os.environ.get("DATABASE_URL"):
    database = database_from_url(os.environ["DATABASE_URL"])
else:
    database = sqlite_database(os.environ.get("SQLITE_PATH") or BASE_DIR / "db.sqlite3")
DATABASES = {
    "default": with_connection_handling(
        database,
        pool_max_size=env_int("DATABASE_POOL_MAX_SIZE", minimum=1),
        pool_timeout_s=env_seconds("DATABASE_POOL_TIMEOUT"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", minimum=0),
        health_checks=env_flag("DATABASE_HEALTH_CHECKS"),
    )
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# WhiteNoise and ServeStatic read the app static directories through the finders, so nothing
# needs collecting. STATIC_ROOT only where one was collected (the harness collects one per
# server): one that was never collected makes WhiteNoise warn "No directory at" in every
# worker. WhiteNoise serves STATIC_ROOT whenever it is set; ServeStatic, with its finders on,
# only when told to.
WHITENOISE_USE_FINDERS = True
SERVESTATIC_USE_FINDERS = True
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT") or None
SERVESTATIC_USE_STATIC_ROOT = STATIC_ROOT is not None
# Django's own upload limits stay at their defaults (DATA_UPLOAD_MAX_MEMORY_SIZE 2.5 MiB for
# the non-file part of a request, FILE_UPLOAD_MAX_MEMORY_SIZE 2.5 MiB before an uploaded file
# goes to a temporary file); only where those temporary files go may be chosen.
FILE_UPLOAD_TEMP_DIR = os.environ.get("DJANGO_FILE_UPLOAD_TEMP_DIR") or None

UPSTREAM_BASE_URL = os.environ.get("UPSTREAM_BASE_URL", "http://127.0.0.1:8000")
UPSTREAM_CLIENT = env_choice("UPSTREAM_CLIENT", ("per-request", "shared"), "per-request")
SAMPLEPROJECT_STATE_DIR = Path(
    os.environ.get("SAMPLEPROJECT_STATE_DIR") or Path(tempfile.gettempdir()) / "sampleproject-state"
)

# Django's own loggers at INFO and above, and Python warnings, to stderr whatever DEBUG is:
# the harness reads each server's log for Django's warnings (e.g. buffered streaming).
LOGGING_CONFIG = "sampleproject.logging_config.configure_logging"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "{asctime} {levelname} {name} pid={process} {message}", "style": "{"},
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "plain",
        },
    },
    "loggers": {
        "django": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        # runserver's per-request access lines: off, like every other server's access log.
        "django.server": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        "django.channels.server": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        "py.warnings": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
    },
}
