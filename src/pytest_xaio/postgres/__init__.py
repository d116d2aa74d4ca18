"""PostgreSQL for tests: server providers, the migrated template database and per-test isolation."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

__all__ = ["PostgresServer", "free_port", "is_local_host", "redact_url"]


@dataclass(frozen=True)
class PostgresServer:
    """A running server the plugin may create databases on (``xaio_postgres`` fixture)."""

    host: str
    port: int
    user: str
    password: str | None
    version: str
    provider: str
    maintenance_db: str = "postgres"

    @property
    def url(self) -> str:
        """URL of the server's maintenance database."""
        return self.url_for(self.maintenance_db)

    def url_for(self, dbname: str, driver: str = "postgresql") -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{driver}://{auth}@{host}:{self.port}/{quote(dbname, safe='')}"

    def connect_kwargs(self, dbname: str | None = None) -> dict[str, object]:
        kwargs: dict[str, object] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "dbname": dbname or self.maintenance_db,
        }
        if self.password:
            kwargs["password"] = self.password
        return kwargs


def is_local_host(host: str) -> bool:
    """Loopback addresses, ``localhost`` and unix-socket directories count as this machine."""
    if not host or host.startswith("/") or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def redact_url(url: str) -> str:
    """The URL with its password shown as ``***``, for messages."""
    parts = urlsplit(url)
    if parts.password:
        return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))
    return url
