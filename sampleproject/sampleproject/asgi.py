"""ASGI entry point: ``sampleproject.asgi:application`` for uvicorn, daphne, hypercorn, granian.

HTTP goes to Django; WebSockets go to Channels. Nothing here handles the ASGI ``lifespan``
scope: Django does not implement it, and the checks record what each server does about that.
"""

import os

from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproject.settings")
# Read by the settings (the default static-files middleware), so set before Django's setup.
os.environ.setdefault("SAMPLEPROJECT_INTERFACE", "asgi")

# Django must be set up before anything imports models, so the routing (consumers) comes after.
django_asgi_app = get_asgi_application()

from demo.routing import websocket_urlpatterns  # noqa: E402

# No AllowedHostsOriginValidator: load generators and the harness's WebSocket client do not all
# send an Origin header, and the echo consumer has nothing to protect.
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
