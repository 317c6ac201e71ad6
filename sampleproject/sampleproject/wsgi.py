"""WSGI entry point: ``sampleproject.wsgi:application`` for gunicorn, uWSGI and granian (WSGI)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproject.settings")

application = get_wsgi_application()
