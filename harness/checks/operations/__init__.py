"""Day-two operations: what happens to a running server, sized as deployed, when clients leave,
database connections age, long work meets timeouts, workers are reloaded, recycled or killed
under load, memory grows and a proxy stands in front. Each module holds one operation:
``client_disconnect`` (with ``leaving_client``, the client that gives up); under live load
(``live_load``: a fixed rate with an SSE stream and a WebSocket held open), ``worker_kill``,
``worker_exit``, ``graceful_reload`` and ``worker_recycling``.
"""

from __future__ import annotations

from harness.checks.operations import (
    client_disconnect,
    database_connections,
    graceful_reload,
    worker_exit,
    worker_kill,
    worker_recycling,
)
from harness.checks.operations._shared import GROUP

__all__ = ["CHECKS", "GROUP"]

CHECKS = [
    client_disconnect.CHECK,
    *database_connections.CHECKS,
    worker_kill.CHECK,
    worker_exit.CHECK,
    graceful_reload.CHECK,
    worker_recycling.CHECK,
]
