"""Views that say what Django received: the production-hazard checks send exact bytes to a
server and compare what each server handed to Django (method, path, headers, body, peer)."""

import hashlib

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

BODY_HEAD_CHARS = 200
READ_SIZE = 64 * 1024
# CONTENT_LENGTH and CONTENT_TYPE are request headers that WSGI and Django keep without the
# HTTP_ prefix; every other header is HTTP_<NAME>.
UNPREFIXED_HEADERS = ("CONTENT_LENGTH", "CONTENT_TYPE")


def _headers(request: HttpRequest) -> dict[str, str]:
    meta = request.META
    headers = {key: str(meta[key]) for key in UNPREFIXED_HEADERS if meta.get(key)}
    headers.update({key: str(value) for key, value in meta.items() if key.startswith("HTTP_")})
    return headers


def _input_terminated(request: HttpRequest) -> bool | None:
    """Whether a WSGI server marked wsgi.input as ending where the body does (so an app may
    read it to the end without a CONTENT_LENGTH, as Werkzeug does); None where the server does
    not say (ASGI has no such key)."""
    if "wsgi.input_terminated" not in request.META:
        return None
    return bool(request.META["wsgi.input_terminated"])


def _input_left(request: HttpRequest) -> int | None:
    """Bytes still in the WSGI server's input after Django read the body (at most READ_SIZE).
    Read only where the server marked its input terminated: elsewhere a read past
    CONTENT_LENGTH could wait for bytes that never come. None where it was not read."""
    if request.META.get("wsgi.input_terminated") is not True:
        return None
    return len(request.META["wsgi.input"].read(READ_SIZE))


def _scope_headers(request: HttpRequest) -> list[list[str]] | None:
    """The headers as the ASGI server put them in the scope, before Django built META from
    them: Django skips some names (those with underscores, since CVE-2026-3902), so only the
    scope says whether a server passed a header on or renamed it. None under WSGI, where the
    server's environ is META itself."""
    scope = getattr(request, "scope", None)
    if scope is None:
        return None
    return [
        [name.decode("latin-1"), value.decode("latin-1")]
        for name, value in scope.get("headers", [])
    ]


def _request_facts(request: HttpRequest) -> dict:
    return {
        "echo": True,
        "method": request.method,
        "path": request.path,
        "path_info": request.path_info,
        "script_name": request.META.get("SCRIPT_NAME", ""),
        # Where Django's own URLs point: under the script name the server passed, if any.
        "reversed": reverse("demo:echo"),
        "query_string": request.META.get("QUERY_STRING", ""),
        "headers": _headers(request),
        "scope_headers": _scope_headers(request),
        "remote_addr": request.META.get("REMOTE_ADDR"),
        "scheme": request.scheme,
        "is_secure": request.is_secure(),
        "host": request.get_host(),  # CommonMiddleware refused a bad Host already
        "input_terminated": _input_terminated(request),
    }


@csrf_exempt
def echo(request: HttpRequest) -> JsonResponse:
    """The parsed request, with its body read whole (Django's own limits apply: a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE is Django's 400)."""
    body = request.body
    return JsonResponse(
        {
            **_request_facts(request),
            "input_left_bytes": _input_left(request),
            "body_bytes": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "body_head": body[:BODY_HEAD_CHARS].decode("latin-1"),
        }
    )


@csrf_exempt
def echo_count(request: HttpRequest) -> JsonResponse:
    """The parsed request and the size of its body, read piece by piece and thrown away, so
    the view itself never holds a large body."""
    total = 0
    digest = hashlib.sha256()
    while chunk := request.read(READ_SIZE):
        total += len(chunk)
        digest.update(chunk)
    return JsonResponse(
        {**_request_facts(request), "body_bytes": total, "body_sha256": digest.hexdigest()}
    )
