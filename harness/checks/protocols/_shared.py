"""The group name, probed endpoint and limits that every TLS and HTTP/2 check uses."""

from __future__ import annotations

GROUP = "TLS and HTTP/2"
PROBE_ENDPOINT = "json_sync"
REQUEST_TIMEOUT_S = 10.0
OUTPUT_LIMIT = 3000  # characters of tool output and server log kept in the evidence
