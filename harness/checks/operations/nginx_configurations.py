"""The nginx configurations of the behind-nginx check, read from ``nginx_configurations.toml``
(the file the methodology page prints verbatim) and written out as whole nginx.conf files.

The TOML holds what a reader would copy (a stock ``location /`` and the documented stream
settings); this module adds only what a scratch run needs around it: the server's real address
in place of the file's ``upstream``, a listen port, nginx's files in a scratch folder and a
readiness location nginx answers itself.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from harness.benchmarks.nginx import READY_PATH, indent, scratch_conf
from harness.checks.hazards.raw_http import Address
from harness.network import HOST

CONFIGURATIONS_FILE = Path(__file__).with_name("nginx_configurations.toml")
# The ids the check judges by: the stock configuration is evidence, the documented one decides.
STOCK, DOCUMENTED = "stock", "documented"
_READ_TIMEOUT = re.compile(r"^\s*proxy_read_timeout\s+(\d+)s;", re.MULTILINE)


class ConfigurationError(ValueError):
    """nginx_configurations.toml is not what the check needs; the message names the field."""


@dataclass(frozen=True)
class ProxyConfiguration:
    id: str
    title: str
    summary: str
    docs: tuple[str, ...]
    http: str  # inside http {}
    server: str  # inside server {}
    upstream: str  # the address the texts proxy to, replaced by the server's real one

    @property
    def read_timeout_s(self) -> float:
        """nginx's proxy_read_timeout in this configuration, read from its own text."""
        return float(_READ_TIMEOUT.findall(self.server)[0])

    def nginx_conf(self, directory: Path, port: int, upstream: Address) -> str:
        """The whole nginx.conf for one run in front of ``upstream``; every file nginx writes
        lives in ``directory``."""
        real = upstream.host_header

        def proxied(text: str) -> list[str]:
            return text.replace(self.upstream, real).splitlines()

        server = [
            f"listen {HOST}:{port};",
            f'location = {READY_PATH} {{ return 200 "ready\\n"; }}',
            f"# --- the {self.id} configuration (nginx_configurations.toml) ---",
            *proxied(self.server),
        ]
        return scratch_conf(
            directory,
            written_by="harness/checks/operations/behind_nginx.py",
            http=[*proxied(self.http), "server {", *indent(server), "}"],
            error_log_note="nginx says why it ended a stream (upstream timed out, ...).",
        )


def _text(path: Path, where: str, table: dict, key: str) -> str:
    value = table.get(key)
    if not isinstance(value, str):
        raise ConfigurationError(f"{path}: {where}{key}: missing or not a string")
    return value


def load_configurations(path: Path = CONFIGURATIONS_FILE) -> dict[str, ProxyConfiguration]:
    """The configurations by id, stock first. ConfigurationError unless there are exactly the
    stock and documented ones, each proxying to ``upstream`` with one proxy_read_timeout in
    whole seconds."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    upstream = _text(path, "", raw, "upstream")
    found = {}
    for index, table in enumerate(raw.get("configurations", [])):
        where = f"configurations/{index}/"
        docs = table.get("docs")
        if not isinstance(docs, list) or not all(isinstance(link, str) for link in docs):
            raise ConfigurationError(f"{path}: {where}docs: not a list of links")
        configuration = ProxyConfiguration(
            id=_text(path, where, table, "id"),
            title=_text(path, where, table, "title"),
            summary=_text(path, where, table, "summary"),
            docs=tuple(docs),
            http=_text(path, where, table, "http"),
            server=_text(path, where, table, "server"),
            upstream=upstream,
        )
        if len(_READ_TIMEOUT.findall(configuration.server)) != 1:
            raise ConfigurationError(
                f"{path}: {where}server: needs exactly one `proxy_read_timeout <N>s;`"
            )
        if f"proxy_pass http://{upstream};" not in configuration.server:
            raise ConfigurationError(f"{path}: {where}server: no `proxy_pass http://{upstream};`")
        found[configuration.id] = configuration
    if list(found) != [STOCK, DOCUMENTED]:
        raise ConfigurationError(
            f"{path}: configurations: expected ids {[STOCK, DOCUMENTED]}, got {list(found)}"
        )
    return found
