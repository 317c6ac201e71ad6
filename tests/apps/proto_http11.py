"""A tiny HTTP/1.1-only server for testing the protocol checks (synthetic; not measured).

    python proto_http11.py PORT [CERTFILE KEYFILE]

With a certificate it terminates TLS and offers only ``http/1.1`` by ALPN, the way a server
without HTTP/2 does; without one it serves plain HTTP/1.1. It knows nothing of HTTP/2: a prior
knowledge preface or an ``Upgrade: h2c`` header gets an ordinary HTTP/1.1 answer or an error.
``/preload`` sends a ``Link: rel=preload`` header; every path answers 200. Like Gunicorn's sync
worker it closes the connection after every response.
"""

import json
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.close_connection = True
        if self.path == "/preload":
            self.send_header("Link", "</static/demo/style.css>; rel=preload; as=style")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        print("proto_http11:", format % args, flush=True)


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
if len(sys.argv) == 4:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[2], sys.argv[3])
    context.set_alpn_protocols(["http/1.1"])
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(f"proto_http11 listening on {sys.argv[1]}, TLS: {len(sys.argv) == 4}", flush=True)
server.serve_forever()
