"""A deliberately small WSGI server (the standard library's wsgiref) serving the sample
project's real WSGI application, for testing the long-work check (synthetic; not a measured
server).

    python long_work_wsgi.py PORT MODE [SECONDS]

Run from sampleproject/ (the launcher's working directory). MODE: ``serves`` answers every
request in a thread of its own, however long it takes; ``cuts`` does the same but closes any
connection still open SECONDS after its request arrived, as a server's request timeout does,
and logs "request timed out after SECONDS s"; ``starves`` serves one request at a time, so
short requests wait behind a long one.
"""

import os
import socket
import sys
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

PORT, MODE = int(sys.argv[1]), sys.argv[2]
CUT_AFTER_S = float(sys.argv[3]) if MODE == "cuts" else None
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproject.settings")

from sampleproject.wsgi import application  # noqa: E402  (after the settings are chosen)


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def cut(connection: socket.socket) -> None:
    """End a request that outlived the timeout: close its connection under the view."""
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        return  # already closed: the request had ended
    print(f"request timed out after {CUT_AFTER_S:g} s", file=sys.stderr, flush=True)


class QuietRequestHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No access log."""

    def handle(self) -> None:
        if CUT_AFTER_S is None:
            super().handle()
            return
        timer = threading.Timer(CUT_AFTER_S, cut, (self.connection,))
        timer.daemon = True
        timer.start()
        try:
            super().handle()
        except OSError:
            pass  # the write after the cut
        finally:
            timer.cancel()


server = make_server(
    "127.0.0.1",
    PORT,
    application,
    server_class=WSGIServer if MODE == "starves" else ThreadingWSGIServer,
    handler_class=QuietRequestHandler,
)
server.serve_forever(poll_interval=0.05)
