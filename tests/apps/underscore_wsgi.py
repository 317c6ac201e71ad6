"""A deliberately small threaded WSGI server (the standard library's wsgiref) serving the sample
project's real WSGI application, for testing the header-underscores check (synthetic; not a
measured server).

    python underscore_wsgi.py PORT MODE

Run from sampleproject/ (the launcher's working directory). MODE says what it does with a
header whose name holds an underscore (``X_Forwarded_For``):

* ``merges``: what wsgiref itself does: every name becomes HTTP_<NAME> with hyphens turned into
  underscores, and two fields that land on one key are joined with a comma, so
  ``X_Forwarded_For`` is joined to ``X-Forwarded-For``;
* ``drops``: leaves such headers out of the environ, as Django's runserver does (CVE-2015-0219);
* ``refuses``: answers 400 to a request carrying one, as gunicorn's ``header_map = refuse`` does;
* ``prefers-hyphen``: maps such a header only where no hyphenated header maps to the same key,
  so it sets a key nobody else sets but never changes one a proxy set;
* ``clears-forwarded``: as ``drops``, then removes every HTTP_X_FORWARDED_* key, as Waitress 3
  does for a peer that is not its ``trusted_proxy`` (``clear_untrusted_proxy_headers``);
* ``merges-clears-forwarded``: as ``merges``, then removes those keys: other underscore names
  still reach the environ.
"""

import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

PORT, MODE = int(sys.argv[1]), sys.argv[2]
MODES = (
    "merges",
    "drops",
    "refuses",
    "prefers-hyphen",
    "clears-forwarded",
    "merges-clears-forwarded",
)
if MODE not in MODES:
    sys.exit(f"unknown mode {MODE!r}, not one of {MODES}")
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproject.settings")

from sampleproject.wsgi import application  # noqa: E402  (after the settings are chosen)


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


UNPREFIXED = ("CONTENT_TYPE", "CONTENT_LENGTH")  # wsgiref keeps these without HTTP_


def meta_key(name: str) -> str:
    return "HTTP_" + name.replace("-", "_").upper()


def add_header(environ: dict, name: str, value: str) -> None:
    """Add a header the way wsgiref does: a second field on one key is joined with a comma."""
    if name.replace("-", "_").upper() in UNPREFIXED:
        return
    key, value = meta_key(name), value.strip()
    environ[key] = f"{environ[key]},{value}" if key in environ else value


class UnderscoreRequestHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No access log."""

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if MODE == "refuses" and any("_" in name for name in self.headers):
            self.send_error(400, "Header name with an underscore")
            return False
        return True

    def get_environ(self) -> dict:
        environ = self.mapped_environ()
        if MODE.endswith("clears-forwarded"):
            for key in [key for key in environ if key.startswith("HTTP_X_FORWARDED_")]:
                del environ[key]
        return environ

    def mapped_environ(self) -> dict:
        environ = super().get_environ()  # wsgiref's own mapping: the ``merges`` mode
        if MODE.startswith("merges"):
            return environ
        for key in [key for key in environ if key.startswith("HTTP_")]:
            del environ[key]
        for name, value in self.headers.items():
            if "_" not in name:
                add_header(environ, name, value)
        if MODE == "prefers-hyphen":
            for name, value in self.headers.items():
                if "_" in name and meta_key(name) not in environ:
                    add_header(environ, name, value)
        return environ


server = make_server(
    "127.0.0.1",
    PORT,
    application,
    server_class=ThreadingWSGIServer,
    handler_class=UnderscoreRequestHandler,
)
server.serve_forever(poll_interval=0.05)
