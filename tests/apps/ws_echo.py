"""A tiny WebSocket server for testing the websocket check (synthetic; not a measured server).

    python ws_echo.py PORT MODE

MODE: ``echo`` (every message back unchanged), ``reorder`` (waits for three messages and sends
them back last first), ``drop`` (never sends the second message back), ``binary`` (echoes text as
binary frames), ``close`` (accepts the handshake, then closes at once), ``refuse`` (answers the
upgrade request 404, as Django under a WSGI server does), ``bounded`` (echo; messages up to 4 MiB,
larger ones closed with 1009; pings every second), ``unlimited`` (echo of any size, no pings).
``/json/sync`` answers plain HTTP 200 so
the harness can tell the server is ready.
"""

import asyncio
import sys

from websockets.asyncio.server import serve

PORT, MODE = int(sys.argv[1]), sys.argv[2]


def process_request(connection, request):
    if request.path == "/json/sync":
        return connection.respond(200, '{"ready": true}\n')
    if MODE == "refuse":
        return connection.respond(404, "Not Found\n")
    return None


async def handler(connection):
    if MODE == "close":
        await connection.close()
        return
    held = []
    async for message in connection:
        if MODE == "reorder":
            held.append(message)
            if len(held) == 3:
                for kept in reversed(held):
                    await connection.send(kept)
        elif MODE == "drop":
            held.append(message)
            if len(held) != 2:
                await connection.send(message)
        elif MODE == "binary":
            await connection.send(message.encode())
        else:
            await connection.send(message)


# websockets' own defaults (1 MiB messages, a ping every 20 s) for the other modes.
LIMITS = {
    "bounded": {"max_size": 4 * 2**20, "ping_interval": 1.0},
    "unlimited": {"max_size": None, "ping_interval": None},
}


async def main():
    limits = LIMITS.get(MODE, {})
    async with serve(
        handler, "127.0.0.1", PORT, process_request=process_request, **limits
    ) as server:
        print(f"ws_echo listening on {PORT} in {MODE} mode", flush=True)
        await server.serve_forever()


asyncio.run(main())
