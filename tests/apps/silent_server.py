"""A server that accepts connections, reads what comes and never answers (synthetic; not a
measured server): what Uvicorn's --http2 option does with HTTP/2 prior knowledge.

    python silent_server.py PORT
"""

import socket
import sys
import threading


def swallow(sock: socket.socket) -> None:
    with sock:
        while sock.recv(65536):
            pass


listener = socket.create_server(("127.0.0.1", int(sys.argv[1])))
print("silent_server listening", flush=True)
while True:
    connection, _ = listener.accept()
    threading.Thread(target=swallow, args=(connection,), daemon=True).start()
