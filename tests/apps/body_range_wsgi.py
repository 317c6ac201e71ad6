"""A deliberately small threaded WSGI server (the standard library's wsgiref) serving the sample
project's real WSGI application, for testing the static-files and large-upload checks
(synthetic; not a measured server).

    python body_range_wsgi.py PORT MODE

Run from sampleproject/ (the launcher's working directory). MODE:

* ``streams``: what PEP 3333 asks: the application reads the body from the socket as it
  needs it, every header reaches it, and the response is closed after it is sent;
* ``buffers``: reads the whole request body into memory before calling the application, as a
  server that holds uploads does;
* ``drops-range``: removes the Range header before the application sees it, so every range
  request gets the whole file;
* ``keeps-responses``: never calls the response's ``close()`` and keeps every response, so
  Django never ends the request and its temporary upload files stay.
"""

import io
import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer, make_server

PORT, MODE = int(sys.argv[1]), sys.argv[2]
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproject.settings")

from sampleproject.wsgi import application  # noqa: E402  (after the settings are chosen)

KEPT = []  # the responses a keeps-responses server never lets go of


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class KeepingHandler(ServerHandler):
    def close(self) -> None:
        """Forget the response without closing it, but keep a reference to it."""
        KEPT.append(self.result)
        self.result = None
        self.headers = self.status = self.environ = None
        self.bytes_sent = 0
        self.headers_sent = False


class QuietRequestHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No access log."""

    def get_environ(self) -> dict:
        environ = super().get_environ()
        if MODE == "drops-range":
            environ.pop("HTTP_RANGE", None)
        return environ

    def handle(self) -> None:
        # WSGIRequestHandler.handle, with the body read first or the response kept by mode.
        self.raw_requestline = self.rfile.readline(65537)
        if not self.parse_request():
            return
        environ = self.get_environ()
        stdin = self.rfile
        if MODE == "buffers":
            stdin = io.BytesIO(self.rfile.read(int(environ.get("CONTENT_LENGTH") or 0)))
        kind = KeepingHandler if MODE == "keeps-responses" else ServerHandler
        handler = kind(stdin, self.wfile, self.get_stderr(), environ, multithread=True)
        handler.request_handler = self
        handler.run(self.server.get_app())


server = make_server(
    "127.0.0.1",
    PORT,
    application,
    server_class=ThreadingWSGIServer,
    handler_class=QuietRequestHandler,
)
server.serve_forever(poll_interval=0.05)
