"""The home page, the JSON views and the sleep views, through both test clients."""

import os

import pytest

JSON_VIEWS = [("/json/sync", "sync"), ("/json/async", "async")]
SLEEP_VIEWS = [("/sleep/sync", "sync"), ("/sleep/async", "async")]

# Every bounded parameter, just outside its bounds or not a number.
BAD_QUERIES = [
    "/sleep/sync?seconds=-0.1",
    "/sleep/sync?seconds=30.5",
    "/sleep/async?seconds=abc",
    "/sleep/async?seconds=nan",
    "/sleep/sync?seconds=inf",
    "/stream/sync?chunks=0",
    "/stream/async?chunks=1001",
    "/stream/sync?chunks=2.5",
    "/stream/async?delay=-1",
    "/stream/sync?delay=10.5",
    "/sse?count=-1",
    "/sse?count=100001",
    "/sse?interval=61",
    "/sse?interval=x",
    "/sse?id=has%20space",
    "/sse?id=" + "a" * 65,
    "/upstream/api?delay_ms=-1",
    "/upstream/api?delay_ms=10001",
    "/upstream/api?delay_ms=0.5",
]


def parameter_of(path: str) -> str:
    return path.split("?")[1].split("=")[0]


def test_home_renders_the_template_that_links_the_stylesheet(client):
    response = client.get("/")
    assert response.status_code == 200
    assert [t.name for t in response.templates][:2] == ["demo/home.html", "demo/base.html"]
    assert 'href="/static/demo/style.css"' in response.text
    stylesheet = client.get("/static/demo/style.css")
    assert stylesheet.status_code == 200
    assert stylesheet["Content-Type"].startswith("text/css")


async def test_home_with_async_client(async_client):
    response = await async_client.get("/")
    assert response.status_code == 200
    assert 'href="/static/demo/style.css"' in response.text


@pytest.mark.parametrize(("path", "view"), JSON_VIEWS)
def test_json_views_say_hello_with_client(client, path, view):
    response = client.get(path)
    assert response.status_code == 200
    assert response.json() == {"message": "hello", "view": view}


@pytest.mark.parametrize(("path", "view"), JSON_VIEWS)
def test_json_views_state_their_length_with_no_middleware(client, settings, path, view):
    # The benchmarks' bare stack: no CommonMiddleware to add Content-Length, so the view must,
    # or the response's framing (and runserver's keep-alive) would differ between the stacks.
    settings.MIDDLEWARE = []
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(response.content))


@pytest.mark.parametrize(("path", "view"), JSON_VIEWS)
async def test_json_views_say_hello_with_async_client(async_client, path, view):
    response = await async_client.get(path)
    assert response.status_code == 200
    assert response.json() == {"message": "hello", "view": view}


@pytest.mark.parametrize(("path", "view"), SLEEP_VIEWS)
def test_sleep_views_report_the_seconds_slept_with_client(client, path, view):
    response = client.get(path, {"seconds": "0.05"})
    assert response.status_code == 200
    assert response.json() == {"slept": 0.05, "view": view}


@pytest.mark.parametrize(("path", "view"), SLEEP_VIEWS)
async def test_sleep_views_report_the_seconds_slept_with_async_client(async_client, path, view):
    response = await async_client.get(path, {"seconds": "0"})
    assert response.status_code == 200
    assert response.json() == {"slept": 0.0, "view": view}


@pytest.mark.parametrize("path", BAD_QUERIES)
def test_bad_parameters_are_a_400_naming_the_parameter_with_client(client, path):
    response = client.get(path)
    assert response.status_code == 400
    assert parameter_of(path) in response.json()["error"]


@pytest.mark.parametrize("path", BAD_QUERIES)
async def test_bad_parameters_are_a_400_naming_the_parameter_with_async_client(async_client, path):
    response = await async_client.get(path)
    assert response.status_code == 400
    assert parameter_of(path) in response.json()["error"]


def test_process_names_the_process_that_ran_the_view(client):
    response = client.get("/process")
    assert response.status_code == 200
    assert response.json() == {"pid": os.getpid()}


def test_the_exit_view_is_a_404_unless_its_setting_is_on(client):
    assert client.get("/process/exit").status_code == 404


class Exited(Exception):
    """Stands for the end of the process in a test that must go on."""


def test_the_exit_view_ends_the_process_when_its_setting_is_on(client, settings, monkeypatch):
    settings.EXIT_VIEW = True

    def exit_process(code: int) -> None:
        raise Exited(code)

    monkeypatch.setattr(os, "_exit", exit_process)
    with pytest.raises(Exited) as exited:
        client.get("/process/exit")
    assert exited.value.args == (1,)
