"""Day-two operations: what happens to a running server, sized as deployed, when clients leave,
database connections age, long work meets timeouts, workers are reloaded, recycled or killed
under load, memory grows and a proxy stands in front. Each module holds one operation:
``client_disconnect`` (with ``leaving_client``, the client that gives up),
``database_connections``, ``long_work`` (with ``long_work_clients``); under live load
(``live_load``: a fixed rate with an SSE stream and a WebSocket held open), ``worker_kill``,
``worker_exit``, ``graceful_reload`` and ``worker_recycling``; ``memory_soak`` (with
``process_memory``, the per-process sampler, and ``memory_trend``, the slope and its interval),
``static_files`` (with ``static_probes``, its requests), ``large_upload`` (with
``upload_client``, the client that sends the file) and ``behind_nginx`` (with
``nginx_configurations``, the proxy configurations it runs).
"""

from __future__ import annotations

from harness.checks.operations import (
    behind_nginx,
    client_disconnect,
    database_connections,
    graceful_reload,
    large_upload,
    long_work,
    memory_soak,
    static_files,
    worker_exit,
    worker_kill,
    worker_recycling,
)
from harness.checks.operations._shared import GROUP

__all__ = ["CHECKS", "GROUP"]

CHECKS = [
    client_disconnect.CHECK,
    *database_connections.CHECKS,
    long_work.CHECK,
    worker_kill.CHECK,
    worker_exit.CHECK,
    graceful_reload.CHECK,
    worker_recycling.CHECK,
    memory_soak.CHECK,
    static_files.CHECK,
    large_upload.CHECK,
    behind_nginx.CHECK,
]
