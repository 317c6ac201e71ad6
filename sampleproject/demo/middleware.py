"""A middleware that can only run synchronously, for the SYNC_MIDDLEWARE=1 variant."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class SyncOnlyMiddleware:
    """Marks each response with ``X-Sync-Middleware: 1``.

    The work is trivial on purpose: under an ASGI server Django must run this middleware in a
    thread and hop back to the event loop for the rest of the stack, and that hop is what the
    variant measures.
    """

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response["X-Sync-Middleware"] = "1"
        return response
