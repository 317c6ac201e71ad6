"""The WebSocket echo consumer, through the project's ASGI application (asgi.py + routing)."""

import pytest
from channels.testing import WebsocketCommunicator

from sampleproject.asgi import application

# Channels closes stale database connections before every message it dispatches, in Django's
# shared sync thread; a connection left there by an earlier test makes that a database access.
pytestmark = pytest.mark.django_db


async def test_echo_sends_three_text_messages_back_in_order():
    communicator = WebsocketCommunicator(application, "/ws/echo")
    connected, _ = await communicator.connect()
    assert connected
    messages = ["first", "second message", '{"third": ["unchanged", 3]}']
    for message in messages:
        await communicator.send_to(text_data=message)
    assert [await communicator.receive_from() for _ in messages] == messages
    await communicator.disconnect()


async def test_echo_sends_binary_back_as_binary():
    communicator = WebsocketCommunicator(application, "/ws/echo")
    await communicator.connect()
    await communicator.send_to(bytes_data=b"\x00\xffbytes")
    assert await communicator.receive_output() == {
        "type": "websocket.send",
        "bytes": b"\x00\xffbytes",
    }
    await communicator.disconnect()


async def test_unrouted_websocket_path_is_refused():
    communicator = WebsocketCommunicator(application, "/ws/nowhere")
    with pytest.raises(ValueError, match="No route found"):
        await communicator.connect()


async def test_lifespan_is_left_to_the_server():
    """Django has no lifespan support; servers must cope with the app refusing the scope."""

    async def receive() -> dict:
        return {"type": "lifespan.startup"}

    async def send(message: dict) -> None:
        raise AssertionError(f"nothing should be sent, got {message}")

    with pytest.raises(ValueError, match="lifespan"):
        await application({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
