"""PostgreSQL for tests: server providers, the migrated template database and per-test isolation."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from pytest_xaio.hosts import is_local_host
from pytest_xaio.postgres.urls import redact_url

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
    #: Other connection parameters from the URL (``sslmode``, ``options``...), kept for every connection.
    params: tuple[tuple[str, str], ...] = ()

    @property
    def url(self) -> str:
        """URL of the server's maintenance database."""
        return self.url_for(self.maintenance_db)

    def url_for(self, dbname: str, driver: str = "postgresql") -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        query = list(self.params)
        if self.host.startswith("/"):  # a unix-socket directory goes in the query, as libpq reads it
            netloc = f"{auth}@"
            query = [("host", self.host), ("port", str(self.port)), *query]
        else:
            host = f"[{self.host}]" if ":" in self.host else self.host
            netloc = f"{auth}@{host}:{self.port}"
        tail = f"?{urlencode(query)}" if query else ""
        return f"{driver}://{netloc}/{quote(dbname, safe='')}{tail}"

    def connect_kwargs(self, dbname: str | None = None) -> dict[str, object]:
        kwargs: dict[str, object] = dict(self.params)
        kwargs.update(host=self.host, port=self.port, user=self.user, dbname=dbname or self.maintenance_db)
        if _is_ip(self.host) and "hostaddr" not in kwargs:
            # Pinned, so a PGHOSTADDR or PGSERVICE in the environment can't send the plugin elsewhere.
            kwargs["hostaddr"] = self.host
        if self.password:
            kwargs["password"] = self.password
        return kwargs


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
