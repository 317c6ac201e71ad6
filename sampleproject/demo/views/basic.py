"""The home page, small JSON responses, and views that only sleep."""

import asyncio
import os
import time

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static

from demo.query import BadQuery, bad_request, bounded_float

MAX_SLEEP_SECONDS = 30.0


def home(request: HttpRequest) -> HttpResponse:
    """A template page that loads a stylesheet, to check templates and static files."""
    return render(request, "demo/home.html")


def preload(request: HttpRequest) -> HttpResponse:
    """The home page with a ``Link: rel=preload`` header naming its stylesheet: a server that
    turns such headers into HTTP/2 server pushes would push the stylesheet."""
    response = render(request, "demo/home.html")
    response["Link"] = f"<{static('demo/style.css')}>; rel=preload; as=style"
    return response


def sized_json(data: dict) -> JsonResponse:
    """A JSON response that states its own length. Django's CommonMiddleware adds
    Content-Length otherwise; without any middleware (the bare stack the benchmarks compare
    with) a response would go unsized, runserver would close the connection after it, and other
    servers would switch to chunked framing, so the two stacks would differ by more than the
    middleware's cost."""
    response = JsonResponse(data)
    response["Content-Length"] = str(len(response.content))
    return response


def json_sync(request: HttpRequest) -> JsonResponse:
    """The smallest useful response, from a sync view."""
    return sized_json({"message": "hello", "view": "sync"})


async def json_async(request: HttpRequest) -> JsonResponse:
    """The smallest useful response, from an async view."""
    return sized_json({"message": "hello", "view": "async"})


def process(request: HttpRequest) -> JsonResponse:
    """Which process answered: a server's worker processes are the ones that run Django, and
    the operations checks that kill or recycle one find them by asking."""
    return sized_json({"pid": os.getpid()})


def process_exit(request: HttpRequest) -> HttpResponse:
    """Ends the process that runs it, mid-request, as a crash would (a worker that exits by
    itself: is it replaced?). Only with SAMPLEPROJECT_EXIT_VIEW=1; a 404 otherwise, so that no
    other measurement can end a worker by accident."""
    if not settings.EXIT_VIEW:
        raise Http404("the exit view is off (SAMPLEPROJECT_EXIT_VIEW)")
    os._exit(1)


def sleep_sync(request: HttpRequest) -> JsonResponse:
    """Blocks its thread for ``?seconds=`` (0..30, default 1.0)."""
    try:
        seconds = bounded_float(request, "seconds", default=1.0, low=0.0, high=MAX_SLEEP_SECONDS)
    except BadQuery as error:
        return bad_request(error)
    time.sleep(seconds)
    return JsonResponse({"slept": seconds, "view": "sync"})


async def sleep_async(request: HttpRequest) -> JsonResponse:
    """Waits ``?seconds=`` (0..30, default 1.0) without blocking the event loop."""
    try:
        seconds = bounded_float(request, "seconds", default=1.0, low=0.0, high=MAX_SLEEP_SECONDS)
    except BadQuery as error:
        return bad_request(error)
    await asyncio.sleep(seconds)
    return JsonResponse({"slept": seconds, "view": "async"})
