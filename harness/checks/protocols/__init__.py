"""TLS and HTTP/2: does the server terminate TLS itself, and which ways to HTTP/2 does it offer?

Each check starts the variant of the server it asks about (the definition's ``tls``,
``http2_tls`` or ``h2c`` command, written from the server's docs). Where a server declares no
such variant, a user would still try the nearest one (HTTP/2 on its TLS port, h2c on its plain
port), so the check tries that and records what happened. httpx (with h2) is the client; curl
and nghttp confirm what they show best: the negotiated version, the ``Upgrade: h2c`` exchange and
pushed streams.

One module per check (``tls``, ``http2_tls``, ``http2_cleartext``, ``http2_upgrade``,
``http2_push``, ``http3``); ``instances`` starts the variant a check needs, ``clients`` runs
httpx, curl and nghttp, and ``http3_client`` sends HTTP/3 over QUIC with aioquic (Debian's
curl has no HTTP/3).
"""

from __future__ import annotations

from harness.checks.protocols import (
    http2_cleartext,
    http2_push,
    http2_tls,
    http2_upgrade,
    http3,
    tls,
)
from harness.checks.protocols._shared import GROUP

__all__ = ["CHECKS", "GROUP"]

CHECKS = [
    tls.CHECK,
    http2_tls.CHECK,
    http2_cleartext.CHECK,
    http2_upgrade.CHECK,
    http2_push.CHECK,
    http3.CHECK,
]
