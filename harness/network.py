"""Loopback addresses, free ports, and TLS material made fresh for every run."""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization

HOST = "127.0.0.1"


_handed_out: set[int] = set()
_handing_out = threading.Lock()
# The kernel's ephemeral range holds about 28,000 ports; start afresh well before it runs out.
_MOST_REMEMBERED = 20_000


def free_port(host: str = HOST) -> int:
    """A port nobody listens on right now, and one this process has not handed out before
    (servers of parallel checks ask at the same moment and the kernel may offer them the same
    free port). The server binds it moments later; if another process takes it meanwhile, the
    server's readiness check sees the foreign listener (``ServerProcess.wait_ready``)."""
    with _handing_out:
        if len(_handed_out) >= _MOST_REMEMBERED:
            _handed_out.clear()
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind((host, 0))
                port = probe.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port


@dataclass(frozen=True)
class TLSMaterial:
    certfile: Path
    keyfile: Path
    ca_file: Path  # what clients trust to verify ``certfile``

    def client_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts exactly this run's CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def make_tls_material(directory: Path) -> TLSMaterial:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost; never committed."""
    authority = trustme.CA()
    certificate = authority.issue_cert(HOST, "localhost", "::1")
    directory.mkdir(parents=True, exist_ok=True)
    material = TLSMaterial(
        certfile=directory / "server-chain.pem",
        keyfile=directory / "server-key.pem",
        ca_file=directory / "ca.pem",
    )
    # PKCS#8, the one key format every server accepts (granian refuses the traditional one).
    key = serialization.load_pem_private_key(certificate.private_key_pem.bytes(), password=None)
    material.keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with material.certfile.open("wb") as chain:
        for blob in certificate.cert_chain_pems:
            chain.write(blob.bytes())
    authority.cert_pem.write_to_path(str(material.ca_file))
    return material
