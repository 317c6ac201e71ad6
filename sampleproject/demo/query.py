"""Bounded query parameters: every measurement view rejects bad input with a 400, never a 500."""

import math

from django.http import HttpRequest, JsonResponse


class BadQuery(ValueError):
    """A query parameter that is not a number or lies outside its bounds."""


def bounded_float(
    request: HttpRequest, name: str, *, default: float, low: float, high: float
) -> float:
    """The float query parameter ``name``, ``default`` when absent, within ``low..high``."""
    raw = request.GET.get(name, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadQuery(f"{name} must be a number, got {raw!r}") from None
    # float() accepts "nan" and "inf"; neither is a duration.
    if not math.isfinite(value) or not low <= value <= high:
        raise BadQuery(f"{name} must be between {low} and {high}, got {raw!r}")
    return value


def bounded_int(request: HttpRequest, name: str, *, default: int, low: int, high: int) -> int:
    """The integer query parameter ``name``, ``default`` when absent, within ``low..high``."""
    raw = request.GET.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadQuery(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise BadQuery(f"{name} must be between {low} and {high}, got {raw!r}")
    return value


def bad_request(error: BadQuery) -> JsonResponse:
    """The 400 response that names the bad parameter."""
    return JsonResponse({"error": str(error)}, status=400)
