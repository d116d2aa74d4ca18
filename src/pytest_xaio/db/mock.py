"""A recording stand-in for the app's DB session, and a guard that refuses real connections.

Real PostgreSQL is the default; this is what a test gets only when it asks
(``@pytest.mark.xaio_mock_db`` or the ``xaio_db_mock`` fixture). While such a test runs, opening a
real database connection (psycopg, SQLAlchemy engines, psycopg2, asyncpg) fails with a message
saying why, the way pytest-django refuses database access outside ``django_db`` tests.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MockCall", "MockSession", "RealDatabaseBlocked", "block_real_databases", "resolve_dependency"]


class RealDatabaseBlocked(RuntimeError):
    """A test that asked for the mock database tried to open a real connection."""


@dataclass(frozen=True)
class MockCall:
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass
class MockSession:
    """Records what the code did with its session: ``calls``, ``added``, ``deleted``, ``executed``,
    ``commits``, ``rollbacks``. Queries return what ``returns(...)`` set (else an empty result).

    Example::

        @pytest.mark.xaio_mock_db
        def test_create(xaio_client, xaio_db_mock):
            xaio_client.post("/api/waitlist", json={"email": "a@example.com"})
            assert xaio_db_mock.commits == 1
            assert xaio_db_mock.added[0].email == "a@example.com"
    """

    calls: list[MockCall] = field(default_factory=list)
    added: list[Any] = field(default_factory=list)
    deleted: list[Any] = field(default_factory=list)
    executed: list[Any] = field(default_factory=list)
    _returns: dict[str, Any] = field(default_factory=dict)

    def _record(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append(MockCall(name, args, kwargs))

    def returns(self, method: str, value: Any) -> MockSession:
        """What ``method`` (``execute``, ``scalar``, ``get``, ``query`` ...) returns from now on."""
        self._returns[method] = value
        return self

    def _result(self, method: str) -> Any:
        if method in self._returns:
            return self._returns[method]
        from unittest import mock  # imported on use: unittest.mock pulls in asyncio

        result = mock.MagicMock(name=f"xaio_db_mock.{method}()")
        result.scalars.return_value.all.return_value = []
        result.scalars.return_value.first.return_value = None
        result.scalar_one_or_none.return_value = None
        result.scalar.return_value = None
        result.first.return_value = None
        result.all.return_value = []
        result.fetchall.return_value = []
        return result

    @property
    def names(self) -> list[str]:
        """The methods called, in order: ``["add", "commit", "refresh"]``."""
        return [c.name for c in self.calls]

    @property
    def commits(self) -> int:
        return self.names.count("commit")

    @property
    def rollbacks(self) -> int:
        return self.names.count("rollback")

    # --- the Session API the code under test calls ----------------------------------------------
    def add(self, obj: Any, *args: Any, **kwargs: Any) -> None:
        self._record("add", obj, *args, **kwargs)
        self.added.append(obj)

    def add_all(self, objs: Any) -> None:
        objs = list(objs)
        self._record("add_all", objs)
        self.added.extend(objs)

    def delete(self, obj: Any) -> None:
        self._record("delete", obj)
        self.deleted.append(obj)

    def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        self._record("execute", statement, *args, **kwargs)
        self.executed.append(statement)
        return self._result("execute")

    def scalar(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        self._record("scalar", statement, *args, **kwargs)
        self.executed.append(statement)
        return self._returns.get("scalar")

    def scalars(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        self._record("scalars", statement, *args, **kwargs)
        self.executed.append(statement)
        return self._result("scalars")

    def get(self, entity: Any, ident: Any, *args: Any, **kwargs: Any) -> Any:
        self._record("get", entity, ident, *args, **kwargs)
        return self._returns.get("get")

    def query(self, *entities: Any, **kwargs: Any) -> Any:
        self._record("query", *entities, **kwargs)
        return self._result("query")

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        def _method(*args: Any, **kwargs: Any) -> Any:
            self._record(name, *args, **kwargs)
            return self._returns.get(name)

        return _method  # commit, rollback, flush, refresh, close, merge, expunge, begin ...

    def __enter__(self) -> MockSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self._record("close")


def resolve_dependency(spec: str, rootdir: str | None = None) -> Any:
    """``package.module:attr.path`` → the object, resolved the way the app helper resolves ``xaio_app``."""
    from pytest_xaio.resolve import resolve_object

    return resolve_object(spec, setting="xaio_db_dependency", rootdir=rootdir)


def _blocked(what: str) -> Callable[..., Any]:
    def _refuse(*args: Any, **kwargs: Any) -> Any:
        raise RealDatabaseBlocked(
            f"pytest-xaio: this test uses the mock database (@pytest.mark.xaio_mock_db or the xaio_db_mock "
            f"fixture), so it may not open a real database connection ({what}).\n"
            "  fix: let the code get its session from the app's DB dependency (xaio_db_dependency), or drop "
            "the mock to test against the real PostgreSQL"
        )

    return _refuse


@contextmanager
def block_real_databases() -> Iterator[None]:
    """Patch the ways Python opens a database connection so each raises ``RealDatabaseBlocked``.
    Only libraries already imported are patched; importing one here would cost every test."""
    from pytest_xaio.patching import Patcher

    with Patcher() as patcher:
        targets: list[tuple[Any, str, str]] = []
        if "psycopg" in sys.modules:
            psycopg = sys.modules["psycopg"]
            targets += [
                (psycopg, "connect", "psycopg.connect"),
                (psycopg.Connection, "connect", "psycopg.Connection.connect"),
                (psycopg.AsyncConnection, "connect", "psycopg.AsyncConnection.connect"),
            ]
        if "psycopg2" in sys.modules:
            targets.append((sys.modules["psycopg2"], "connect", "psycopg2.connect"))
        if "asyncpg" in sys.modules:
            targets.append((sys.modules["asyncpg"], "connect", "asyncpg.connect"))
        if "sqlalchemy" in sys.modules:
            from sqlalchemy.engine import Engine

            targets += [
                (Engine, "connect", "SQLAlchemy Engine.connect"),
                (Engine, "raw_connection", "SQLAlchemy Engine.raw_connection"),
            ]
            if "sqlalchemy.ext.asyncio" in sys.modules:
                from sqlalchemy.ext.asyncio import AsyncEngine

                targets.append((AsyncEngine, "connect", "SQLAlchemy AsyncEngine.connect"))
        for owner, attr, label in targets:
            patcher.setattr(owner, attr, _blocked(label))
        yield


def apps_in(values: Any) -> list[Any]:
    """FastAPI apps among a test's fixture values: apps, TestClients (``.app``), httpx clients with an
    ASGI transport."""
    found: list[Any] = []
    for value in values:
        for candidate in (value, getattr(value, "app", None), getattr(getattr(value, "_transport", None), "app", None)):
            if (
                candidate is not None
                and isinstance(getattr(candidate, "dependency_overrides", None), dict)
                and all(candidate is not f for f in found)
            ):
                found.append(candidate)
    return found
