"""endpoints.toml is the harness's list of paths: it must match the URLconf and the routing."""

import tomllib
from pathlib import Path

import pytest
from django.urls import URLPattern, resolve

from demo import urls as demo_urls
from demo.routing import websocket_urlpatterns
from polls import urls as polls_urls

ENDPOINTS_FILE = Path(__file__).resolve().parents[2] / "endpoints.toml"


def endpoints_table(name: str) -> dict[str, str]:
    with ENDPOINTS_FILE.open("rb") as file:
        return tomllib.load(file)[name]


def listed_name(namespace: str, url_name: str) -> str:
    """The endpoints.toml name of a URL: demo names as they are, other apps prefixed."""
    return url_name if namespace == "demo" else f"{namespace}_{url_name}"


def named_views(namespace: str, patterns: list[URLPattern]) -> set[str]:
    return {f"{namespace}:{pattern.name}" for pattern in patterns if pattern.name}


@pytest.mark.parametrize(("name", "path"), sorted(endpoints_table("endpoints").items()))
def test_endpoint_path_resolves_to_the_url_of_the_same_name(name, path):
    match = resolve(path.split("?")[0])
    assert listed_name(match.namespace, match.url_name) == name


def test_every_named_url_of_demo_and_polls_is_listed():
    listed = {resolve(path).view_name for path in endpoints_table("endpoints").values()}
    named = named_views("demo", demo_urls.urlpatterns) | named_views(
        "polls", polls_urls.urlpatterns
    )
    assert named - listed == set()


def test_websocket_endpoints_match_the_routing():
    listed = endpoints_table("websocket_endpoints")
    routed = {f"/{route.pattern}" for route in websocket_urlpatterns}
    assert set(listed.values()) == routed


@pytest.mark.parametrize("path", sorted(endpoints_table("static_files").values()))
def test_listed_static_files_are_served(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert b"".join(response.streaming_content)


@pytest.mark.parametrize("path", sorted(endpoints_table("static_files").values()))
async def test_listed_static_files_are_served_by_servestatic_under_asgi(
    async_client, settings, path
):
    """The ASGI production stack (SAMPLEPROJECT_INTERFACE=asgi) serves them too."""
    settings.MIDDLEWARE = [
        name.replace(
            "whitenoise.middleware.WhiteNoiseMiddleware",
            "servestatic.middleware.ServeStaticMiddleware",
        )
        for name in settings.MIDDLEWARE
    ]
    assert "servestatic.middleware.ServeStaticMiddleware" in settings.MIDDLEWARE
    response = await async_client.get(path)
    assert response.status_code == 200
    assert b"".join([part async for part in response.streaming_content])
