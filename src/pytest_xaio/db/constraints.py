"""Does the database itself refuse a bad value? Insert one row in a savepoint and see.

The other columns of the row are filled from the table's own catalog (types, defaults, CHECK lists,
enum labels, foreign keys) unless the test gives a base row. Works with a psycopg connection (e.g.
``xaio_db``), a ``TestDatabase``, or a SQLAlchemy ``Session``/``Connection``; the insert is always
rolled back, and the test's own transaction survives a rejection.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Mapping
from typing import Any

from pytest_xaio.db import schema
from pytest_xaio.db.checkexpr import listed_values

__all__ = ["allowed_values", "assert_accepts", "assert_rejects"]

_counter = itertools.count(1)
Parents = list[tuple[str, dict[str, Any]]]
_ERROR_NAMES = {
    "check": "CheckViolation",
    "unique": "UniqueViolation",
    "not_null": "NotNullViolation",
    "foreign_key": "ForeignKeyViolation",
    "exclusion": "ExclusionViolation",
}


class _Db:
    """One interface over psycopg and SQLAlchemy: run a query, insert a row in a savepoint."""

    def __init__(self, db: Any) -> None:
        db = getattr(db, "connection", db) if type(db).__name__ == "TestDatabase" else db
        self.sqlalchemy = type(db).__module__.startswith("sqlalchemy")
        self.db = db

    def rows(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.sqlalchemy:
            conn = self.db.connection() if hasattr(self.db, "get_bind") else self.db
            return [tuple(r) for r in conn.exec_driver_sql(query, params).fetchall()]
        return list(self.db.execute(query, params).fetchall())

    def try_insert(self, table: str, row: Mapping[str, Any], parents: Parents) -> Exception | None:
        """Insert (parents first, then the row) in a savepoint that is always rolled back."""
        if self.sqlalchemy:
            return self._try_sqlalchemy(table, row, parents)
        import psycopg

        try:
            with self.db.transaction(force_rollback=True):
                for parent, values in parents:
                    self.db.execute(*_insert(parent, values))
                self.db.execute(*_insert(table, row))
        except psycopg.Error as exc:
            return exc
        return None

    def _try_sqlalchemy(self, table: str, row: Mapping[str, Any], parents: Parents) -> Exception | None:
        from sqlalchemy.exc import DBAPIError

        nested = self.db.begin_nested()
        conn = self.db.connection() if hasattr(self.db, "get_bind") else self.db
        try:
            for parent, values in parents:
                conn.exec_driver_sql(*_insert(parent, values))
            conn.exec_driver_sql(*_insert(table, row))
        except DBAPIError as exc:
            nested.rollback()
            return exc
        nested.rollback()
        return None


def _ident(name: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def _insert(table: str, row: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
    if not row:
        return f"INSERT INTO {_ident(table)} DEFAULT VALUES", ()
    from psycopg.types.json import Jsonb

    cols = ", ".join(_ident(c) for c in row)
    values = tuple(Jsonb(v) if isinstance(v, dict) else v for v in row.values())
    return f"INSERT INTO {_ident(table)} ({cols}) VALUES ({', '.join(['%s'] * len(row))})", values


# --- reading the catalog --------------------------------------------------------------------------
def allowed_values(db: Any, table: str, column: str) -> list[str]:
    """The values a column accepts, read from its CHECK (``status IN (...)``) or its enum type.

    Example::

        def test_status(xaio_db):
            assert set(allowed_values(xaio_db, "waitlist", "status")) == {"pending", "approved"}
    """
    __tracebackhide__ = True
    found = _allowed(_Db(db), table, column)
    if found is None:
        checks = [c.definition for c in _constraints(_Db(db), table) if c.type == "check"]
        raise LookupError(
            f"{table}.{column} has no CHECK ({column} IN (...)) and no enum type, so its allowed values "
            f"are not in the catalog; CHECK constraints on {table}: {'; '.join(checks) or 'none'}"
        )
    return found


def _allowed(db: _Db, table: str, column: str) -> list[str] | None:
    labels = db.rows(
        "SELECT e.enumlabel FROM pg_attribute a JOIN pg_enum e ON e.enumtypid = a.atttypid "
        "WHERE a.attrelid = %s::regclass AND a.attname = %s ORDER BY e.enumsortorder",
        (_ident(table), column),
    )
    if labels:
        return [r[0] for r in labels]
    for con in _constraints(db, table):
        if con.type == "check" and column in con.columns:
            values = listed_values(con.definition, column)
            if values is not None:
                return values
    return None


def _constraints(db: _Db, table: str) -> list[schema.Constraint]:
    return schema.constraints(_Rows(db), table)


def _columns(db: _Db, table: str) -> list[schema.Column]:
    return schema.columns(_Rows(db), table)


class _Rows:
    """Lets the catalog readers (written for psycopg) run through SQLAlchemy too."""

    def __init__(self, db: _Db) -> None:
        self._db = db
        self._rows: list[tuple[Any, ...]] = []

    def execute(self, query: str, params: tuple[Any, ...] = ()) -> _Rows:
        self._rows = self._db.rows(query, params)
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None


# Text that Postgres casts to these types (psycopg sends str untyped, so the column's type wins).
_LITERALS: dict[str, Any] = {
    "inet": "127.0.0.1",
    "cidr": "10.0.0.0/8",
    "macaddr": "08:00:2b:01:02:03",
    "interval": "1 day",
    "time without time zone": "12:00",
    "time with time zone": "12:00+00",
    "bytea": b"xaio",
    "point": "(0,0)",
    "tsvector": "xaio",
    "xml": "<x/>",
}


# --- building a valid row -------------------------------------------------------------------------
def _value_for(col: schema.Column, allowed: list[str] | None) -> Any:
    n = next(_counter)
    t = col.type.lower()
    if allowed:
        return allowed[0]
    if t in ("smallint", "integer", "bigint"):
        return n
    if t.startswith(("numeric", "real", "double", "money")):
        return n % 100  # small enough for numeric(4,2)
    base = re.sub(r"\(.*?\)", "", t).strip()
    if base in _LITERALS:
        return _LITERALS[base]
    if t == "boolean":
        return False
    if t == "uuid":
        return uuid.uuid4()
    if t in ("json", "jsonb"):
        return {}
    if t.startswith(("timestamp", "date")):
        import datetime

        return datetime.datetime.now(datetime.timezone.utc) if t.startswith("timestamp") else datetime.date.today()
    if t.endswith("[]"):
        return []
    name = col.name.lower()
    text = f"xaio{n}@example.com" if "email" in name else f"https://example.com/{n}" if "url" in name else f"xaio-{n}"
    length = re.search(r"\((\d+)\)", t)
    return text[-int(length.group(1)) :] if length else text


def _fill(
    db: _Db, table: str, given: Mapping[str, Any], parents: list[tuple[str, dict[str, Any]]], depth: int = 0
) -> dict[str, Any]:
    """A row for ``table``: the given values, plus a value for each NOT NULL column without a default."""
    row = dict(given)
    cons = _constraints(db, table)
    fks = {c.columns[0]: c for c in cons if c.type == "foreign key" and len(c.columns) == 1}
    for col in _columns(db, table):
        if col.name in row or col.nullable or col.default is not None:
            continue
        if col.name in fks:
            row[col.name] = _parent_key(db, fks[col.name], parents, depth)
        else:
            row[col.name] = _value_for(col, _allowed(db, table, col.name))
    return row


def _parent_key(db: _Db, fk: schema.Constraint, parents: list[tuple[str, dict[str, Any]]], depth: int) -> Any:
    match = re.search(r'REFERENCES\s+((?:"[^"]+"|[\w.])+)\s*\(([^)]+)\)', fk.definition)
    if match is None:
        raise LookupError(f"cannot read foreign key {fk.name}: {fk.definition}")
    ref_table, ref_col = match.group(1).replace('"', ""), match.group(2).strip().strip('"')
    existing = db.rows(f"SELECT {_ident(ref_col)} FROM {_ident(ref_table)} LIMIT 1")
    if existing:
        return existing[0][0]
    if depth > 5:
        raise LookupError(f"foreign keys nest too deep to fill {fk.columns[0]}; pass base_row=...")
    ref_cols = {c.name: c for c in _columns(db, ref_table)}
    values = _fill(db, ref_table, {}, parents, depth + 1)
    if ref_col not in values:
        col = ref_cols[ref_col]
        if col.default is not None and ("nextval" in col.default or "identity" in col.default):
            values[ref_col] = 10_000_000 + next(_counter)
        else:
            values[ref_col] = _value_for(col, None)
    parents.append((ref_table, values))
    return values[ref_col]


# --- the assertions -------------------------------------------------------------------------------
def _attempt(
    db: Any, table: str, column: str, value: Any, base_row: Mapping[str, Any] | None
) -> tuple[Exception | None, dict[str, Any]]:
    adapter = _Db(db)
    parents: list[tuple[str, dict[str, Any]]] = []
    given = dict(base_row or {})
    given[column] = value
    row = _fill(adapter, table, given, parents)
    return adapter.try_insert(table, row, parents), row


def _pg_error(exc: Exception) -> Exception:
    return getattr(exc, "orig", None) or exc


def _describe(exc: Exception) -> str:
    pg = _pg_error(exc)
    first = str(pg).strip().splitlines()[0] if str(pg).strip() else ""
    return f"{type(exc).__name__}" + (f" wrapping {type(pg).__name__}" if pg is not exc else "") + f": {first}"


def assert_rejects(
    db: Any,
    table: str,
    column: str,
    value: Any,
    base_row: Mapping[str, Any] | None = None,
    *,
    error: str | type[BaseException] | None = None,
) -> Exception:
    """Assert the database refuses ``value`` in ``table.column``; returns the error it raised.

    ``error`` narrows what counts: ``"check"``, ``"unique"``, ``"not_null"``, ``"foreign_key"`` or
    an exception class (``psycopg.errors.CheckViolation``, ``sqlalchemy.exc.IntegrityError``). By
    default any integrity (SQLSTATE 23) or data (22) error counts. With a SQLAlchemy session the
    error is SQLAlchemy's ``IntegrityError``/``DataError`` wrapping the psycopg one.

    Example::

        def test_status_check(xaio_db):
            assert_rejects(xaio_db, "waitlist", "status", "bogus", error="check")
            assert_accepts(xaio_db, "waitlist", "status", "pending")
    """
    __tracebackhide__ = True
    import psycopg.errors

    exc, row = _attempt(db, table, column, value, base_row)
    if exc is None:
        raise AssertionError(
            f"{table}.{column} accepted {value!r}: the row was inserted (then rolled back); no CHECK, NOT NULL, "
            f"UNIQUE or FOREIGN KEY constraint refused it.\n  row: {row!r}"
        )
    pg = _pg_error(exc)
    if error is None:
        ok = isinstance(pg, (psycopg.errors.IntegrityError, psycopg.errors.DataError))
        wanted = "an integrity or data error"
    elif isinstance(error, str):
        if error not in _ERROR_NAMES:
            raise ValueError(f"error must be one of {', '.join(_ERROR_NAMES)} or an exception class, not {error!r}")
        cls = getattr(psycopg.errors, _ERROR_NAMES[error])
        ok, wanted = isinstance(pg, cls), cls.__name__
    else:
        ok, wanted = isinstance(exc, error) or isinstance(pg, error), error.__name__
    if not ok:
        raise AssertionError(
            f"{table}.{column} = {value!r} was rejected, but with {_describe(exc)}; expected {wanted}.\n  row: {row!r}"
        )
    return exc


def assert_accepts(db: Any, table: str, column: str, value: Any, base_row: Mapping[str, Any] | None = None) -> None:
    """Assert a row with ``table.column = value`` inserts cleanly (it is rolled back right after).

    Example::

        def test_statuses(xaio_db):
            for status in allowed_values(xaio_db, "waitlist", "status"):
                assert_accepts(xaio_db, "waitlist", "status", status)
    """
    __tracebackhide__ = True
    exc, row = _attempt(db, table, column, value, base_row)
    if exc is not None:
        raise AssertionError(
            f"{table}.{column} = {value!r} was rejected by the database: {_describe(exc)}\n  row: {row!r}\n"
            "  (other columns were filled from the table's types and defaults; pass base_row=... to choose them)"
        )
