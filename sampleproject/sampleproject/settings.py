"""Settings of the Serving Django sample project.

One project; every variant the harness measures is chosen by environment variables, read once
when this module is imported:

DJANGO_DEV_MODE=1
    DEBUG=True and no WhiteNoise: static files are served only the way Django's development
    tools do (``runserver``'s static handler), so under any other server /static/ is a 404.
    Unset: DEBUG=False and WhiteNoise serves static files straight from the app directories
    (WHITENOISE_USE_FINDERS), so no ``collectstatic`` is needed.
DJANGO_SECRET_KEY
    The secret key. Unset: a random key per process, so nothing secret is ever committed. Set it
    when several worker processes must agree on signatures (sessions, signed cookies).
DJANGO_ALLOWED_HOSTS
    Comma-separated hosts added to 127.0.0.1, localhost, [::1] and testserver.
SQLITE_PATH
    The SQLite database file (default: db.sqlite3 beside manage.py).
DATABASE_URL
    ``postgres://user:pass@host:port/name``: use PostgreSQL through psycopg instead of SQLite.
DJANGO_RUNSERVER_DAPHNE=1
    Put "daphne" first in INSTALLED_APPS so ``manage.py runserver`` serves ASGI. Only that
    server's environment has daphne installed; nothing imports it otherwise.
SYNC_MIDDLEWARE=1
    Add demo.middleware.SyncOnlyMiddleware, a sync-only middleware, to measure what one such
    middleware costs on an async stack.
UPSTREAM_BASE_URL
    Base URL of the slow "external API" that the /upstream/* views call
    (default http://127.0.0.1:8000, the project itself under runserver).
SAMPLEPROJECT_STATE_DIR
    Directory where the /sse view appends stream lifecycle records (sse-events.jsonl, see
    demo/sse_log.py). Default: <system temp dir>/sampleproject-state.

Flags accept 1/true/yes/on.
"""

import os
import tempfile
from pathlib import Path

from django.core.management.utils import get_random_secret_key

from sampleproject.environment import database_from_url, env_flag, env_list, sqlite_database

BASE_DIR = Path(__file__).resolve().parent.parent

DEV_MODE = env_flag("DJANGO_DEV_MODE")
DEBUG = DEV_MODE

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
    # WhiteNoise's documented place: right after SecurityMiddleware.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")
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
    DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}
else:
    DATABASES = {
        "default": sqlite_database(os.environ.get("SQLITE_PATH") or BASE_DIR / "db.sqlite3")
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
# No STATIC_ROOT: WhiteNoise reads the app static directories through the finders, and a
# STATIC_ROOT that was never collected makes it warn "No directory at" in every worker.
WHITENOISE_USE_FINDERS = True

UPSTREAM_BASE_URL = os.environ.get("UPSTREAM_BASE_URL", "http://127.0.0.1:8000")
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
