"""A tiny cleartext HTTP/2 server (prior knowledge) for testing the http2-frames check
(synthetic; not a measured server), on the h2 library:

    python h2_tiny.py PORT MODE

Every request gets 200 JSON. It advertises a limit of 10 concurrent streams. MODE ``sound``
serves until stopped; ``fragile`` exits after 100 stream resets, as a server brought down by a
rapid-reset attack would stop answering.
"""

import json
import os
import socket
import sys
import threading

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

PORT, MODE = int(sys.argv[1]), sys.argv[2]
RESETS_BEFORE_DYING = 100
resets = 0


def answer(connection: h2.connection.H2Connection, stream_id: int) -> None:
    body = json.dumps({"message": "hello", "view": "sync"}).encode()
    headers = [
        (":status", "200"),
        ("content-type", "application/json"),
        ("content-length", str(len(body))),
    ]
    try:
        connection.send_headers(stream_id, headers)
        connection.send_data(stream_id, body, end_stream=True)
    except (h2.exceptions.StreamClosedError, KeyError):
        pass  # the client reset the stream in the same read


def serve(sock: socket.socket) -> None:
    global resets
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    connection.local_settings = h2.settings.Settings(
        client=False, initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 10}
    )
    connection.initiate_connection()
    sock.sendall(connection.data_to_send())
    with sock:
        while data := sock.recv(65536):
            try:
                events = connection.receive_data(data)
            except h2.exceptions.ProtocolError:
                sock.sendall(connection.data_to_send())
                return
            resets += sum(isinstance(event, h2.events.StreamReset) for event in events)
            if MODE == "fragile" and resets >= RESETS_BEFORE_DYING:
                os._exit(1)
            for event in events:
                if isinstance(event, h2.events.RequestReceived):
                    answer(connection, event.stream_id)
            sock.sendall(connection.data_to_send())


def main() -> None:
    listener = socket.create_server(("127.0.0.1", PORT))
    print(f"h2_tiny listening on {PORT} in {MODE} mode", flush=True)
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=serve, args=(sock,), daemon=True).start()


main()
