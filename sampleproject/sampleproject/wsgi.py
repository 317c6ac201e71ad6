"""WSGI entry point: ``sampleproject.wsgi:application`` for gunicorn, uWSGI and granian (WSGI)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproject.settings")
# Read by the settings (the default static-files middleware), so set before Django's setup.
os.environ.setdefault("SAMPLEPROJECT_INTERFACE", "wsgi")

application = get_wsgi_application()
