"""Day-two operations: what happens to a running server, sized as deployed, when clients leave,
database connections age, long work meets timeouts, workers are reloaded, recycled or killed
under load, memory grows and a proxy stands in front. Each module holds one operation:
``client_disconnect`` (with ``leaving_client``, the client that gives up),
``database_connections``, ``static_files`` (with ``static_probes``, its requests) and
``large_upload`` (with ``upload_client``, the client that sends the file).
"""

from __future__ import annotations

from harness.checks.operations import (
    client_disconnect,
    database_connections,
    large_upload,
    static_files,
)
from harness.checks.operations._shared import GROUP

__all__ = ["CHECKS", "GROUP"]

CHECKS = [
    client_disconnect.CHECK,
    *database_connections.CHECKS,
    static_files.CHECK,
    large_upload.CHECK,
]
