"""The HTTP scope a tiny ASGI test server (synthetic) builds from a request head, shared by
tests/apps/disconnect_asgi.py and underscore_asgi.py; they import it from their own folder."""

from collections.abc import Callable


def as_sent(name: str) -> bytes:
    """A header name as the ASGI spec asks: lowercased, otherwise as the client sent it."""
    return name.strip().lower().encode("latin-1")


def http_scope(
    head: bytes, server: tuple[str, int], header_name: Callable[[str], bytes] = as_sent
) -> dict:
    """The scope of the request whose head (request line, header lines, the blank line) is
    ``head``; ``header_name`` turns each header name into the scope's bytes."""
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, _ = request_line.split(" ")
    path, _, query = target.partition("?")
    headers = [
        (header_name(name), value.strip().encode("latin-1"))
        for name, _, value in (line.partition(":") for line in header_lines if line)
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": headers,
        "client": ("127.0.0.1", 0),
        "server": server,
    }
