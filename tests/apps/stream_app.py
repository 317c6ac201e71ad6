"""A deliberately simple streaming server for testing the streaming checks (synthetic; not a
measured server and not Django).

    python stream_app.py PORT

Every behaviour lives under its own path prefix, so one process serves them all:

* ``/<behaviour>/stream?chunks=N&delay=S``: lines ``chunk <n> at <time.monotonic()>`` like
  the sample project's /stream/* views.
* ``/<behaviour>/sse?count=N&interval=S&id=ID``: events ``id: n`` / ``data: {json}`` like
  /sse (count 0 = endless), with lifecycle records in $SAMPLEPROJECT_STATE_DIR/sse-events.jsonl
  in the sample project's format.
* ``/<behaviour>/sse/page``: a page with the sample page's contract (#events, #status) whose
  EventSource reads ``/<behaviour>/sse``.

Behaviours: ``live`` sends each chunk or event as it is made; ``buffered`` makes them all
(sleeping between them as the live one does), prints a Django-like streaming warning and sends
everything at the end; ``wrong-type`` streams events live as text/plain; ``broken`` answers
500 (its page still loads); ``notices`` streams live and records ``cancelled`` when the client
is gone; ``ignores`` streams live, never records an end, and keeps "running" after the client
left; ``closes`` streams live without chunked framing and closes the connection after the
last event (a server dropping a stream).
"""

import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PORT = int(sys.argv[1])
STATE_FILE = Path(os.environ.get("SAMPLEPROJECT_STATE_DIR", "state")) / "sse-events.jsonl"
IGNORED_CLIENT_RUNS_FOR_S = 30
FAKE_WARNING = (
    "WARNING py.warnings stream_app.py: Warning: StreamingHttpResponse must consume synchronous "
    "iterators in order to serve them asynchronously. Use an asynchronous iterator instead."
)
PAGE = """<!doctype html>
<html><body>
<p>Status: <span id="status">connecting</span></p>
<ol id="events"></ol>
<script>
  const list = document.getElementById("events");
  const status = document.getElementById("status");
  const source = new EventSource("/BEHAVIOUR/sse" + window.location.search);
  source.onopen = () => { status.textContent = "open"; };
  source.onmessage = (event) => {
    const item = document.createElement("li");
    item.textContent = event.data;
    list.appendChild(item);
    const data = JSON.parse(event.data);
    if (data.count > 0 && data.n >= data.count) { source.close(); status.textContent = "done"; }
  };
  source.onerror = () => { if (status.textContent !== "done") status.textContent = "error"; };
</script>
</body></html>
"""


def record(stream: str, event: str, sent: int) -> None:
    STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"stream": stream, "event": event, "at": time.time(), "sent": sent})
    with STATE_FILE.open("a", encoding="utf-8") as file:
        file.write(line + "\n")


def chunk_lines(count: int, delay: float):
    for number in range(1, count + 1):
        if number > 1:
            time.sleep(delay)
        yield f"chunk {number} at {time.monotonic():.6f}\n".encode()


def sse_frames(count: int, interval: float, stream: str):
    sent = 0
    while count == 0 or sent < count:
        if sent:
            time.sleep(interval)
        sent += 1
        data = {"n": sent, "count": count, "stream": stream, "at": time.time()}
        yield f"id: {sent}\ndata: {json.dumps(data)}\n\n".encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        behaviour, _, endpoint = url.path.strip("/").partition("/")
        if url.path == "/json/sync":
            self.send_body(200, "application/json", b'{"ready": true}')
        elif behaviour == "broken" and endpoint != "sse/page":
            self.send_body(500, "text/html", b"<h1>Server Error (500)</h1>")
        elif endpoint == "stream":
            chunks = chunk_lines(int(query.get("chunks", 5)), float(query.get("delay", 0.5)))
            self.stream(behaviour, "text/plain; charset=utf-8", chunks)
        elif endpoint == "sse":
            self.sse(behaviour, query)
        elif endpoint == "sse/page":
            page = PAGE.replace("BEHAVIOUR", behaviour).encode()
            self.send_body(200, "text/html; charset=utf-8", page)
        else:
            self.send_body(404, "text/plain", b"not found")

    def send_body(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def start_chunked(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def send_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def stream(self, behaviour: str, content_type: str, parts) -> None:
        if behaviour == "buffered":
            parts = [b"".join(parts)]  # made in real time, sent in one piece at the end
            print(FAKE_WARNING, flush=True)
        self.start_chunked(content_type)
        for part in parts:
            self.send_chunk(part)
        self.wfile.write(b"0\r\n\r\n")

    def sse(self, behaviour: str, query: dict[str, str]) -> None:
        count, interval = int(query.get("count", 5)), float(query.get("interval", 0.5))
        stream = query.get("id", "anonymous")
        frames = sse_frames(count, interval, stream)
        content_type = "text/plain" if behaviour == "wrong-type" else "text/event-stream"
        if behaviour == "closes":
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Connection", "close")
            self.end_headers()
            for frame in frames:
                self.wfile.write(frame)
                self.wfile.flush()
            self.close_connection = True
            return
        if behaviour not in ("notices", "ignores"):
            self.stream(behaviour, content_type, frames)
            return
        record(stream, "started", 0)
        self.start_chunked(content_type)
        sent = 0
        try:
            for frame in frames:
                self.send_chunk(frame)
                sent += 1
        except (BrokenPipeError, ConnectionResetError):
            if behaviour == "notices":
                record(stream, "cancelled", sent)
            else:
                time.sleep(IGNORED_CLIENT_RUNS_FOR_S)  # a generator that never hears of it
            return
        self.wfile.write(b"0\r\n\r\n")
        record(stream, "finished", sent)

    def log_message(self, format: str, *args: object) -> None:
        print("stream_app:", format % args, flush=True)


ThreadingHTTPServer.daemon_threads = True
print(f"stream_app listening on {PORT}", flush=True)
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
