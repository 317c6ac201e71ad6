"""The SYNC_MIDDLEWARE variant, and which middleware already runs sync-only."""

import pytest
from django.conf import settings as django_settings
from django.utils.module_loading import import_string

SYNC_ONLY = "demo.middleware.SyncOnlyMiddleware"


@pytest.fixture
def with_sync_middleware(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, SYNC_ONLY]


@pytest.mark.parametrize("path", ["/json/sync", "/json/async"])
def test_sync_only_middleware_marks_responses_with_client(client, with_sync_middleware, path):
    assert client.get(path)["X-Sync-Middleware"] == "1"


@pytest.mark.parametrize("path", ["/json/sync", "/json/async"])
async def test_sync_only_middleware_marks_responses_with_async_client(
    async_client, with_sync_middleware, path
):
    response = await async_client.get(path)
    assert response["X-Sync-Middleware"] == "1"


def test_default_stack_has_no_sync_only_middleware_header(client):
    assert "X-Sync-Middleware" not in client.get("/json/sync")


def test_only_whitenoise_is_sync_only_in_the_default_stack():
    """WhiteNoise has no async support, so the production stack already crosses to a thread
    once per request under ASGI; results of the SYNC_MIDDLEWARE variant are read against that.
    """
    sync_only = [
        path
        for path in django_settings.MIDDLEWARE
        if not getattr(import_string(path), "async_capable", False)
    ]
    assert sync_only == ["whitenoise.middleware.WhiteNoiseMiddleware"]
