"""WebSocket routes, mounted by sampleproject/asgi.py (listed in endpoints.toml)."""

from django.urls import path

from demo.consumers import EchoConsumer

websocket_urlpatterns = [
    path("ws/echo", EchoConsumer.as_asgi(), name="websocket_echo"),
]
