"""The echo views report what Django received: method, path, headers, peer and body."""

import hashlib
import json
from io import BytesIO

import pytest
from django.core.handlers.asgi import ASGIRequest

from demo.views import echo as views


@pytest.mark.parametrize("path", ["/echo", "/echo/count"])
def test_a_post_is_echoed_with_its_body_size_and_digest(client, path):
    body = b"hello, body"
    response = client.post(path + "?a=1", body, content_type="text/plain", HTTP_X_PROBE="a b")
    echo = response.json()
    assert response.status_code == 200
    assert echo["echo"] is True
    assert (echo["method"], echo["path"], echo["query_string"]) == ("POST", path, "a=1")
    assert echo["headers"]["HTTP_X_PROBE"] == "a b"
    assert echo["headers"]["CONTENT_LENGTH"] == str(len(body))
    assert echo["body_bytes"] == len(body)
    assert echo["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_echo_shows_the_start_of_the_body_and_the_peer(client):
    echo = client.post("/echo", b"x" * 500, content_type="text/plain").json()
    assert echo["body_head"] == "x" * 200
    assert echo["remote_addr"] == "127.0.0.1"
    assert (echo["scheme"], echo["is_secure"]) == ("http", False)


def test_a_host_django_does_not_allow_is_refused_before_the_view(client):
    # CommonMiddleware asks for the host first; a raw-HTTP check sees this as a 400.
    response = client.get("/echo", HTTP_HOST="forwarded.example")
    assert response.status_code == 400


def test_csrf_does_not_stop_a_post_without_a_token(client):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/echo", b"x", content_type="text/plain").status_code == 200


def test_echo_says_whether_the_server_marked_its_input_terminated(client):
    # Django's test client builds a WSGI environ without the key; a server that sets it is seen.
    plain = client.post("/echo", b"x", content_type="text/plain").json()
    assert (plain["input_terminated"], plain["input_left_bytes"]) == (None, None)
    environ = {"wsgi.input": BytesIO(b"x"), "wsgi.input_terminated": True}
    marked = client.post("/echo", b"x", content_type="text/plain", **environ).json()
    assert (marked["input_terminated"], marked["input_left_bytes"]) == (True, 0)


def test_echo_shows_a_body_django_left_unread_in_a_terminated_input(client):
    # A chunked upload as a WSGI server passes it: no CONTENT_LENGTH, the input marked
    # terminated. Django reads no body without a length; the bytes are still in wsgi.input.
    environ = {"wsgi.input": BytesIO(b"hello, body"), "wsgi.input_terminated": True}
    echo = client.generic("POST", "/echo", CONTENT_TYPE="text/plain", **environ).json()
    assert echo["headers"].get("CONTENT_LENGTH") in (None, "0")
    assert (echo["body_bytes"], echo["input_left_bytes"]) == (0, len(b"hello, body"))


def test_echo_says_where_django_is_mounted(client):
    echo = client.get("/echo").json()
    assert (echo["path"], echo["path_info"], echo["reversed"]) == ("/echo", "/echo", "/echo")
    assert echo["script_name"] == ""


def test_echo_shows_the_asgi_scope_headers_beside_meta(client):
    assert client.get("/echo").json()["scope_headers"] is None  # WSGI: the environ is META


def test_echo_shows_a_scope_header_django_left_out_of_meta():
    # Since CVE-2026-3902 Django's ASGIRequest skips names with underscores (its test client
    # drops them before the scope, so the request is built from a scope as a server sends it).
    headers = [(b"host", b"testserver"), (b"x_probe", b"u"), (b"x-probe", b"h")]
    scope = {"type": "http", "method": "GET", "path": "/echo", "headers": headers}
    echo = json.loads(views.echo(ASGIRequest(scope, BytesIO())).content)
    assert echo["scope_headers"] == [["host", "testserver"], ["x_probe", "u"], ["x-probe", "h"]]
    assert echo["headers"]["HTTP_X_PROBE"] == "h"
