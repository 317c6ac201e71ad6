"""A deliberately simple SSE server that serves one stream at a time, like a sync worker
(synthetic; not a measured server and not Django), for testing the idle-connection holder.

    python sse_one_at_a_time.py PORT

``/sse?count=N&interval=S&id=ID`` streams events ``id: n`` / ``data: {json}`` like the sample
project's /sse (count 0 = endless). While one stream runs, every other connection waits in the
listen backlog. ``/json/sync`` answers 200 and closes the connection (readiness).
"""

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

PORT = int(sys.argv[1])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/sse":
            self.send_response(200)
            self.send_header("Content-Length", "16")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b'{"ready": true}\n')
            return
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        count, interval = int(query.get("count", 5)), float(query.get("interval", 0.5))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        sent = 0
        try:
            while count == 0 or sent < count:
                if sent:
                    time.sleep(interval)
                sent += 1
                data = json.dumps({"n": sent, "count": count, "stream": query.get("id")})
                self.wfile.write(f"id: {sent}\ndata: {data}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: object) -> None:
        print("sse_one_at_a_time:", format % args, flush=True)


print(f"sse_one_at_a_time listening on {PORT}", flush=True)
HTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
