"""``xaio_db`` for async apps: psycopg's calling style over the app's async connection.

Tests, ``pytest_xaio_create_user`` hooks and path-parameter fixtures are written against a psycopg
connection (``db.execute("INSERT ... VALUES (%s)", (x,)).fetchone()``). For an async app the rows
must land in the transaction the app's sessions join, which lives on the app's async connection
(asyncpg or psycopg's async mode) on the app loop. This object keeps psycopg's surface and runs
each statement there: sync callers wait for it, and an async test can call it as well (its own
loop only waits while the app loop works).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_xaio.loop import AppLoop

__all__ = ["AsyncBackedConnection", "AsyncBackedCursor", "to_numeric_dollar"]

# psycopg's placeholders: %s %b %t, %(name)s, and %% for a literal percent sign.
_PLACEHOLDER = re.compile(rb"%%|%\((?P<name>[^)]+)\)[sbt]|%[sbt]")


def to_numeric_dollar(query: str, params: Sequence[Any] | Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """psycopg's ``%s`` / ``%(name)s`` placeholders as ``$1``, ``$2`` ... for asyncpg, with the
    values in order (psycopg's own rule: every ``%`` is a placeholder or ``%%``)."""
    names: dict[str, int] = {}
    values: list[Any] = []
    positional = iter(params) if not isinstance(params, Mapping) else None

    def replace(match: re.Match[bytes]) -> bytes:
        if match.group(0) == b"%%":
            return b"%"
        name = match.group("name")
        if name is not None:
            if not isinstance(params, Mapping):
                raise TypeError("the query uses %(name)s placeholders: pass the parameters as a mapping")
            key = name.decode()
            if key not in names:
                values.append(params[key])
                names[key] = len(values)
            return f"${names[key]}".encode()
        if positional is None:
            raise TypeError("the query uses %s placeholders: pass the parameters as a sequence")
        try:
            values.append(next(positional))
        except StopIteration:
            raise TypeError("the query has more placeholders than parameters") from None
        return f"${len(values)}".encode()

    converted = _PLACEHOLDER.sub(replace, query.encode()).decode()
    if positional is not None and next(positional, _END) is not _END:
        raise TypeError("the query has fewer placeholders than parameters")
    return converted, tuple(values)


_END = object()


def _query_text(query: Any) -> str:
    if isinstance(query, bytes):
        return query.decode()
    if isinstance(query, str):
        return query
    as_string = getattr(query, "as_string", None)  # psycopg.sql.Composable
    if as_string is not None:
        return str(as_string(None))
    raise TypeError(f"xaio_db.execute() takes a str, bytes or psycopg.sql query, not {type(query).__name__}")


class AsyncBackedCursor:
    """A psycopg-like cursor whose rows were fetched on the app loop."""

    def __init__(self, connection: AsyncBackedConnection) -> None:
        self.connection = connection
        self._rows: list[tuple[Any, ...]] | None = None
        self._pos = 0
        self.rowcount = -1
        self.description: list[tuple[str, ...]] | None = None

    def execute(self, query: Any, params: Any = None) -> AsyncBackedCursor:
        rows, columns, rowcount = self.connection._run(_query_text(query), params)
        self._rows, self._pos, self.rowcount = rows, 0, rowcount
        self.description = [(c,) for c in columns] if rows is not None else None
        return self

    def _result(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            import psycopg

            raise psycopg.ProgrammingError("the last operation didn't produce a result")
        return self._rows

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self._result()
        if self._pos >= len(rows):
            return None
        self._pos += 1
        return rows[self._pos - 1]

    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        rows = self._result()
        chunk = rows[self._pos : self._pos + size]
        self._pos += len(chunk)
        return chunk

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows = self._result()
        rest = rows[self._pos :]
        self._pos = len(rows)
        return rest

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        while (row := self.fetchone()) is not None:
            yield row

    def close(self) -> None:
        self._rows = None

    def __enter__(self) -> AsyncBackedCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncBackedConnection:
    """``xaio_db`` in transaction mode for an async app: statements run in the app's transaction.

    ``commit()`` is refused, as on the sync connection; ``rollback()`` returns to the test's start.
    Errors are the driver's, wrapped by SQLAlchemy (``sqlalchemy.exc.IntegrityError`` ...).
    """

    def __init__(self, loop: AppLoop, connection: Any, drivername: str, restart: Callable[[], None]) -> None:
        self._loop = loop
        self._connection = connection
        self._restart = restart
        self._numeric = "asyncpg" in drivername
        self.closed = False
        self.broken = False

    def execute(self, query: Any, params: Any = None) -> AsyncBackedCursor:
        return AsyncBackedCursor(self).execute(query, params)

    def cursor(self) -> AsyncBackedCursor:
        return AsyncBackedCursor(self)

    def commit(self) -> None:
        from pytest_xaio.postgres.isolation import IsolationError

        raise IsolationError(
            "pytest-xaio: xaio_db runs inside the test's transaction (the async app's connection), which is "
            "rolled back after the test; commit() would leak rows into other tests. For a test that must "
            "really commit, use @pytest.mark.xaio_db(isolation='truncate') or isolation='clone'."
        )

    def rollback(self) -> None:
        """Back to the start of the test: its transaction rolled back, a new one begun."""
        self._check_open()
        self._restart()

    def close(self) -> None:
        self.closed = True

    def _check_open(self) -> None:
        if self.closed:
            import psycopg

            raise psycopg.OperationalError("xaio_db is closed: the test it belonged to has ended")

    def _run(self, query: str, params: Any) -> tuple[list[tuple[Any, ...]] | None, list[str], int]:
        self._check_open()
        return self._loop.call(self._arun, query, params)

    async def _arun(self, query: str, params: Any) -> tuple[list[tuple[Any, ...]] | None, list[str], int]:
        connection = self._connection
        if params is None:
            from pytest_xaio.migrations.sqlsplit import split_statements

            statements = [text for _, text in split_statements(query)]
            if len(statements) > 1:  # a script: psycopg runs it whole; prepared statements take one each
                # The driver's own execute skips SQLAlchemy, which begins the test's transaction on
                # the first statement: send one through SQLAlchemy first, or the script autocommits.
                await connection.exec_driver_sql("SELECT 1")
                raw = await connection.get_raw_connection()
                driver = raw.driver_connection
                if self._numeric:
                    await driver.execute(query)
                else:
                    await driver.execute(query.encode())
                return None, [], -1
            result = await connection.exec_driver_sql(query)
        elif self._numeric:
            converted, values = to_numeric_dollar(query, params)
            result = await connection.exec_driver_sql(converted, values)
        else:
            result = await connection.exec_driver_sql(query, params if isinstance(params, Mapping) else tuple(params))
        if not result.returns_rows:
            return None, [], result.rowcount
        columns = list(result.keys())
        rows = [tuple(row) for row in result.fetchall()]
        return rows, columns, result.rowcount if result.rowcount is not None else len(rows)
