"""A deliberately small threaded WSGI server (the standard library's wsgiref) serving the sample
project's real WSGI application, for testing the client-disconnect check (synthetic; not a
measured server).

    python disconnect_wsgi.py PORT MODE

Run from sampleproject/ (the launcher's working directory). MODE: ``closes`` does what PEP 3333
asks: when a write to a gone client fails it stops and calls the response's ``close()``, which
closes a stream's generator and fires Django's request_finished; ``never-closes`` stops writing
the same way but drops the response without calling ``close()``, so Django never hears that the
request ended.
"""

import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer, make_server

PORT, MODE = int(sys.argv[1]), sys.argv[2]
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproject.settings")

from sampleproject.wsgi import application  # noqa: E402  (after the settings are chosen)


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class NeverClosingHandler(ServerHandler):
    def finish_response(self) -> None:
        """Write what the application yields; on a failed write, give up without close()."""
        try:
            for data in self.result:
                self.write(data)
            self.finish_content()
        except OSError:
            pass


class QuietRequestHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No access log."""

    def handle(self) -> None:
        if MODE == "closes":
            super().handle()
            return
        # WSGIRequestHandler.handle with the never-closing handler.
        self.raw_requestline = self.rfile.readline(65537)
        if not self.parse_request():
            return
        handler = NeverClosingHandler(
            self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True
        )
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
