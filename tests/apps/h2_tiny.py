"""A tiny cleartext HTTP/2 server (prior knowledge) for testing the http2-frames check
(synthetic; not a measured server), on the h2 library:

    python h2_tiny.py PORT MODE

Every request gets 200 JSON. It advertises a limit of 10 concurrent streams. By MODE:

- ``sound``: refuses the streams over its limit with RST_STREAM REFUSED_STREAM, and closes a
  connection with GOAWAY ENHANCE_YOUR_CALM once its peer has reset 200 streams (a rapid-reset
  bound);
- ``closing``: the same bound, but over its stream limit it closes the whole connection (the
  h2 library's own TooManyStreamsError: GOAWAY PROTOCOL_ERROR);
- ``tolerant``: refuses the streams over its limit, and takes every reset without a bound;
- ``fragile``: exits after 100 stream resets, as a server brought down by a rapid-reset attack
  would stop answering.
"""

import json
import os
import socket
import sys
import threading

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

PORT, MODE = int(sys.argv[1]), sys.argv[2]
ADVERTISED_STREAMS = 10
RESETS_BEFORE_DYING = 100
RESETS_BEFORE_GOAWAY = 200
MCS = h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS
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
    except (h2.exceptions.ProtocolError, KeyError):
        pass  # the client reset the stream in the same read, and h2 has forgotten it


def new_connection() -> h2.connection.H2Connection:
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    connection.local_settings = h2.settings.Settings(
        client=False, initial_values={MCS: ADVERTISED_STREAMS}
    )
    connection.initiate_connection()
    if MODE != "closing":
        # Advertised 10 (the SETTINGS frame is already written), but the library is told of
        # no limit, so that this server refuses the extra streams itself, one by one.
        connection.local_settings = h2.settings.Settings(
            client=False, initial_values={MCS: 2**31 - 1}
        )
    return connection


def close_gracefully(sock: socket.socket) -> None:
    """Stop writing, then read until the peer closes: closing with unread data would reset
    the connection and could lose the GOAWAY just sent."""
    sock.shutdown(socket.SHUT_WR)
    sock.settimeout(2.0)
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass


def serve(sock: socket.socket) -> None:
    global resets
    connection = new_connection()
    sock.sendall(connection.data_to_send())
    connection_resets = 0
    open_streams: set[int] = set()
    with sock:
        while data := sock.recv(65536):
            try:
                events = connection.receive_data(data)
            except h2.exceptions.ProtocolError:
                sock.sendall(connection.data_to_send())
                close_gracefully(sock)
                return
            reset_now = sum(isinstance(event, h2.events.StreamReset) for event in events)
            resets += reset_now
            connection_resets += reset_now
            if MODE == "fragile" and resets >= RESETS_BEFORE_DYING:
                os._exit(1)
            for event in events:
                if isinstance(event, h2.events.RequestReceived):
                    if len(open_streams) >= ADVERTISED_STREAMS:
                        connection.reset_stream(
                            event.stream_id, error_code=h2.errors.ErrorCodes.REFUSED_STREAM
                        )
                        continue
                    open_streams.add(event.stream_id)
                    answer(connection, event.stream_id)
                elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                    open_streams.discard(event.stream_id)
            if MODE in ("sound", "closing") and connection_resets > RESETS_BEFORE_GOAWAY:
                connection.close_connection(error_code=h2.errors.ErrorCodes.ENHANCE_YOUR_CALM)
                sock.sendall(connection.data_to_send())
                close_gracefully(sock)
                return
            sock.sendall(connection.data_to_send())


def main() -> None:
    listener = socket.create_server(("127.0.0.1", PORT))
    print(f"h2_tiny listening on {PORT} in {MODE} mode", flush=True)
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=serve, args=(sock,), daemon=True).start()


main()
