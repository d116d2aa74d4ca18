"""The connection guard: while tests run, a database connection may only go to the plugin's databases.

An app builds its database URL from its own settings, often at import time. When those settings
still point at the developer's database (a missing ``xaio_env`` line, a conftest that imported the
app too early), the suite would run — and its teardown delete rows — there. The guard wraps the
connect functions of psycopg 3, psycopg2 and asyncpg (SQLAlchemy engines open their connections
through these), works out which server and database each call is for, exactly as libpq would from
the arguments and the ``PG*`` environment, and refuses any that the policy does not allow.

The plugin's own connections (its maintenance database, for creating and dropping) pass: a call
whose nearest caller outside the driver libraries is pytest-xaio's own code is trusted.

This module imports only the standard library at load time: it also runs inside the fresh
interpreter that applies Alembic migrations (``pytest_xaio.db.alembic_child``).
"""

from __future__ import annotations

import getpass
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pytest_xaio.patching import Patcher

__all__ = ["ConnectionGuard", "Target", "WrongDatabaseError", "resolve_target"]

# Frames in these packages are the way to the connect call, not its cause.
_LIBRARIES = (
    "psycopg",
    "psycopg2",
    "psycopg_pool",
    "asyncpg",
    "sqlalchemy",
    "sqlmodel",
    "pytest_postgresql",
    "contextlib",
    "asyncio",
)
_SELF = __name__


class WrongDatabaseError(RuntimeError):
    """A connection to a database the plugin does not own was refused."""


@dataclass(frozen=True)
class Target:
    """Where a connection goes, as libpq resolves it."""

    host: str
    port: int
    dbname: str
    user: str

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else (self.host or "localhost")
        return f"postgresql://{self.user}@{host}:{self.port}/{self.dbname}"


def _first(value: Any) -> str:
    return str(value).split(",")[0].strip() if value not in (None, "") else ""


def resolve_target(dsn: str | None = None, **kwargs: Any) -> Target:
    """The server and database a connect call reaches: the DSN (URL or ``key=value``), then the
    keyword arguments, then ``PGHOST``/``PGPORT``/``PGUSER``/``PGDATABASE``, then libpq's defaults."""
    params: dict[str, Any] = {}
    text = (dsn or "").strip()
    if text:
        params.update(_parse_dsn(text))
    for key, value in kwargs.items():
        if value is None:
            continue
        key = {"database": "dbname", "db": "dbname", "username": "user"}.get(key, key)
        params[key] = value
    host = _first(params.get("host") or params.get("hostaddr") or os.environ.get("PGHOST"))
    port_text = _first(params.get("port") or os.environ.get("PGPORT") or "5432")
    try:
        port = int(port_text)
    except ValueError:
        port = 5432
    user = str(params.get("user") or os.environ.get("PGUSER") or _os_user())
    dbname = str(params.get("dbname") or os.environ.get("PGDATABASE") or user)
    return Target(host=host, port=port, dbname=dbname, user=user)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "postgres"


def _parse_dsn(text: str) -> dict[str, str]:
    if "://" in text:
        parts = urlsplit(text)
        found: dict[str, str] = {}
        netloc = parts.netloc.rpartition("@")
        if netloc[1]:
            found["user"] = unquote(netloc[0].partition(":")[0])
        hostport = netloc[2]
        if hostport.startswith("["):
            host, _, rest = hostport[1:].partition("]")
            port = rest.lstrip(":")
        else:
            host, _, port = hostport.partition(":")
        if host:
            found["host"] = unquote(host)
        if port:
            found["port"] = port.split(",")[0]
        if parts.path.strip("/"):
            found["dbname"] = unquote(parts.path.lstrip("/"))
        for key, values in parse_qs(parts.query).items():
            if key in ("host", "port", "user", "dbname", "database") and values:
                found["dbname" if key == "database" else key] = values[0]
        return found
    try:
        from psycopg.conninfo import conninfo_to_dict

        return {k: str(v) for k, v in conninfo_to_dict(text).items() if v is not None}
    except Exception:
        return {}


Policy = Callable[[Target], "str | None"]


@dataclass
class ConnectionGuard:
    """Wraps the drivers' connect functions; ``policy(target)`` returns None to allow, or the reason."""

    policy: Policy
    seen: list[Target] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    _patcher: Patcher = field(default_factory=Patcher)

    # --- the check ------------------------------------------------------------------------------
    def check(self, target: Target) -> None:
        self.seen.append(target)
        if _called_by_plugin():
            return
        reason = self.policy(target)
        if reason is not None:
            self.refused.append(reason)
            raise WrongDatabaseError(reason)

    # --- installing -----------------------------------------------------------------------------
    def install(self) -> ConnectionGuard:
        self._patch_psycopg()
        for name, patch in (("psycopg2", self._patch_psycopg2), ("asyncpg", self._patch_asyncpg)):
            if name in sys.modules or importlib.util.find_spec(name) is not None:
                try:
                    patch()
                except ImportError:
                    pass
        return self

    def uninstall(self) -> None:
        self._patcher.undo()

    def _set(self, owner: Any, name: str, value: Any) -> None:
        self._patcher.setattr(owner, name, value)

    def _patch_psycopg(self) -> None:
        import psycopg

        guard = self
        sync_connect = psycopg.Connection.__dict__["connect"].__func__
        async_connect = psycopg.AsyncConnection.__dict__["connect"].__func__

        def connect(cls: Any, /, conninfo: str = "", **kwargs: Any) -> Any:
            guard.check(resolve_target(conninfo, **kwargs))
            return sync_connect(cls, conninfo, **kwargs)

        async def aconnect(cls: Any, /, conninfo: str = "", **kwargs: Any) -> Any:
            guard.check(resolve_target(conninfo, **kwargs))
            return await async_connect(cls, conninfo, **kwargs)

        self._set(psycopg.Connection, "connect", classmethod(connect))
        self._set(psycopg.AsyncConnection, "connect", classmethod(aconnect))
        self._set(psycopg, "connect", psycopg.Connection.connect)

    def _patch_psycopg2(self) -> None:
        import psycopg2

        guard = self
        original = psycopg2.connect

        def connect(
            dsn: str | None = None, connection_factory: Any = None, cursor_factory: Any = None, **kw: Any
        ) -> Any:
            guard.check(resolve_target(dsn, **kw))
            return original(dsn, connection_factory=connection_factory, cursor_factory=cursor_factory, **kw)

        self._set(psycopg2, "connect", connect)

    def _patch_asyncpg(self) -> None:
        import asyncpg
        import asyncpg.connection

        guard = self
        original = asyncpg.connection.connect

        async def connect(dsn: str | None = None, **kwargs: Any) -> Any:
            guard.check(resolve_target(dsn, **{k: kwargs.get(k) for k in ("host", "port", "user", "database")}))
            return await original(dsn, **kwargs)

        self._set(asyncpg, "connect", connect)
        self._set(asyncpg.connection, "connect", connect)


def _called_by_plugin() -> bool:
    """True when the nearest caller outside the driver libraries is pytest-xaio itself."""
    frame: Any = sys._getframe(2)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        top = module.partition(".")[0]
        if module == _SELF or top in _LIBRARIES:
            frame = frame.f_back
            continue
        return top == "pytest_xaio" and module not in ("pytest_xaio.app", "pytest_xaio.app_db", "pytest_xaio.client")
    return False
