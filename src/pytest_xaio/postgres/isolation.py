"""Per-test isolation: roll back one transaction, truncate what a test wrote, or clone the template.

``transaction`` (the default) keeps one connection per worker. Each test runs inside
``SAVEPOINT xaio_test`` and is rolled back at the end; the app joins the same transaction when its
session dependency is overridden (SQLAlchemy's ``join_transaction_mode="create_savepoint"``), so the
app's own ``commit()`` calls work and still leave nothing behind.

A run of consecutive tests may share rows made once (:class:`HeldRows`: the endpoint matrix's
``xaio_user``): they are written before ``SAVEPOINT xaio_test``, each test of the run ends with
``ROLLBACK TO SAVEPOINT xaio_test`` (its own writes go, the shared rows stay), and the run ends
with a full rollback, so nothing is left behind once it is over.

A test's closing rollback is sent without waiting for the server's answer: pytest reports the test
and sets up the next one meanwhile, and the answer is collected before the connection's next use
(:meth:`WorkerDatabases._collect`). A rollback that failed there is handled as it would have been at
the test's end: the run's shared rows go (a full rollback), or a connection that broke is replaced.
"""

from __future__ import annotations

import copy
import select
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq, sql

from pytest_xaio.migrations.source import HISTORY_TABLE, sqlalchemy_url
from pytest_xaio.postgres.databases import DatabaseOwner, OwnedDatabase

__all__ = ["HeldRows", "IsolationError", "TestDatabase", "WorkerDatabases", "release_held_rows"]

_ALWAYS_KEEP = {"alembic_version", HISTORY_TABLE}


@dataclass
class HeldRows:
    """Rows a run of consecutive tests shares (transaction isolation only).

    ``make(connection)`` writes them once, before the first test's savepoint, and returns what the
    tests get (``TestDatabase.held``, a shallow copy per test). ``group`` names the run: a test of
    another group, or of another isolation, ends it. ``continues`` is set before a test's teardown
    when the next test belongs to the same group; otherwise the teardown ends the run.
    """

    group: str
    make: Callable[[psycopg.Connection[Any]], Any]
    continues: bool = False


# The worker databases holding rows right now (release_held_rows() ends every run).
_holding: weakref.WeakSet[WorkerDatabases] = weakref.WeakSet()


def release_held_rows() -> None:
    """End every run of tests sharing held rows (a full rollback on the worker's connection)."""
    for workers in list(_holding):
        workers.release_held()


class IsolationError(psycopg.ProgrammingError):
    """A test tried something that would break its isolation."""


class _TestConnection(psycopg.Connection[Any]):
    """The worker's connection: inside a test, commit is refused and rollback returns to the test's start."""

    _xaio_in_test = False
    _xaio_mute_rollback = False

    def commit(self) -> None:
        if self._xaio_in_test:
            raise IsolationError(
                "pytest-xaio: xaio_db runs inside the test's transaction, which is rolled back after the test; "
                "commit() would leak rows into other tests. The app's commits already work (they release a "
                "savepoint). For a test that must really commit, use @pytest.mark.xaio_db(isolation='truncate') "
                "or isolation='clone'."
            )
        super().commit()

    def rollback(self) -> None:
        if self._xaio_mute_rollback:
            return
        if self._xaio_in_test:
            self.execute("ROLLBACK TO SAVEPOINT xaio_test")
            return
        super().rollback()


class TestDatabase:
    """This test's database (fixture ``xaio_database``): its URL, a connection, and SQLAlchemy hooks."""

    __test__ = False  # not a test class, whatever pytest's python_classes say

    def __init__(
        self, workers: WorkerDatabases, isolation: str, db: OwnedDatabase, connection: psycopg.Connection[Any]
    ) -> None:
        self.isolation = isolation
        self.name = db.name
        self.url = db.url
        self.connection = connection
        self._workers = workers
        self._sa_connection: Any = None
        self._sa_engine: Any = None
        #: What HeldRows.make returned for the run this test belongs to (None outside such a run).
        self.held: Any = None
        # Async apps (postgres/aio.py): the AsyncConnection the app's sessions join (transaction
        # mode; None otherwise) and the app loop it lives on.
        self.async_bind: Any = None
        self.async_loop: Any = None

    @property
    def sqlalchemy_url(self) -> str:
        """The URL with SQLAlchemy's psycopg 3 driver: ``postgresql+psycopg://``."""
        return sqlalchemy_url(self.url)

    def sqlalchemy_connection(self) -> Any:
        """A SQLAlchemy ``Connection`` in this test's transaction (transaction mode) or database."""
        if self._sa_connection is None:
            if self.isolation == "transaction":
                engine = self._workers.shared_engine(self.connection)
            else:
                engine = self._own_engine()
            self._sa_connection = engine.connect()
            self._sa_connection.begin()
        return self._sa_connection

    def truncate_written(self) -> list[str]:
        """Empty the tables written so far, as the end of a ``truncate`` test does (seed data and
        ``xaio_keep_tables`` stay); returns the tables emptied. ``xaio_example`` calls it per example.
        Only in ``truncate`` isolation: elsewhere the test's rows go with its transaction or clone."""
        if self.isolation != "truncate":
            raise RuntimeError(f"truncate_written() is for isolation='truncate', not {self.isolation!r}")
        return self._workers.truncate_written()

    def session(self, session_class: type | None = None, **kwargs: Any) -> Any:
        """A SQLAlchemy ``Session`` (or ``session_class``, e.g. ``sqlmodel.Session``) that sees the test's
        rows; its commits only release a savepoint."""
        from sqlalchemy.orm import Session

        cls: Any = session_class or Session
        if self.isolation == "transaction":
            kwargs["join_transaction_mode"] = "create_savepoint"
            return cls(bind=self.sqlalchemy_connection(), **kwargs)
        return cls(bind=self._own_engine(), **kwargs)

    def session_dependency(self, **kwargs: Any) -> Callable[[], Iterator[Any]]:
        """A FastAPI dependency to put in ``app.dependency_overrides[get_db]``."""

        def _dependency() -> Iterator[Any]:
            session = self.session(**kwargs)
            try:
                yield session
            finally:
                session.close()

        return _dependency

    def _own_engine(self) -> Any:
        """truncate/clone: an engine on this test's database (the sessions' commits are real here)."""
        if self._sa_engine is None:
            from sqlalchemy import create_engine
            from sqlalchemy.pool import NullPool

            self._sa_engine = create_engine(self.sqlalchemy_url, poolclass=NullPool)
        return self._sa_engine

    def close(self) -> None:
        if self._sa_connection is not None:
            try:
                self._sa_connection.close()
            finally:
                self._sa_connection = None
        if self._sa_engine is not None:
            self._sa_engine.dispose()
            self._sa_engine = None


class WorkerDatabases:
    """One worker's databases for one template: the shared worker DB and per-test clones."""

    def __init__(self, owner: DatabaseOwner, template: str, worker_db: OwnedDatabase, keep: tuple[str, ...]) -> None:
        self.owner = owner
        self.template = template
        self.worker_db = worker_db
        self._keep = set(keep) | _ALWAYS_KEEP
        self._conn: _TestConnection | None = None
        self._auto_conn: psycopg.Connection[Any] | None = None
        self._engine: Any = None
        self._tables: list[str] | None = None
        self._held: tuple[str, Any] | None = None  # (group, value) of the rows before SAVEPOINT xaio_test
        self._unanswered = False  # the last test's rollback is sent, its answer not read yet

    # --- connections ----------------------------------------------------------------------------
    def _transaction_conn(self) -> _TestConnection:
        self._collect()
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = _TestConnection.connect(self.worker_db.url)
            self._engine = None
            self._held = None  # they went with the old connection's transaction
        return self._conn

    def _autocommit_conn(self) -> psycopg.Connection[Any]:
        if self._auto_conn is None or self._auto_conn.closed or self._auto_conn.broken:
            self._auto_conn = psycopg.connect(self.worker_db.url, autocommit=True)
        return self._auto_conn

    def shared_engine(self, conn: psycopg.Connection[Any]) -> Any:
        """A SQLAlchemy engine whose only connection is the worker's test connection."""
        if self._engine is None:
            from sqlalchemy import create_engine
            from sqlalchemy.pool import StaticPool

            assert isinstance(conn, _TestConnection)
            engine = create_engine("postgresql+psycopg://", creator=lambda: conn, poolclass=StaticPool)
            # SQLAlchemy rolls back once when it first sees a connection; mid-test that would drop the
            # test's own rows, so that one rollback is muted.
            conn._xaio_mute_rollback = True
            try:
                engine.connect().close()
            finally:
                conn._xaio_mute_rollback = False
            self._engine = engine
        return self._engine

    # --- per test -------------------------------------------------------------------------------
    @contextmanager
    def test_database(self, isolation: str, held: HeldRows | None = None) -> Iterator[TestDatabase]:
        if isolation == "transaction":
            yield from self._in_transaction(held)
            return
        self.release_held()  # its open transaction would hold locks a TRUNCATE waits for
        if isolation == "truncate":
            yield from self._truncating()
        else:
            yield from self._cloned()

    @contextmanager
    def _setup(self) -> Iterator[None]:
        """A test's database setup that fails because the server is gone ends the run with one
        message, instead of one psycopg traceback per remaining test."""
        try:
            yield
        except psycopg.OperationalError as exc:
            try:
                with psycopg.connect(**self.owner.server.connect_kwargs(), connect_timeout=5):  # type: ignore[arg-type]
                    pass
            except psycopg.Error:
                server = self.owner.server
                where = server.host if server.host.startswith("/") else f"{server.host}:{server.port}"
                import pytest

                pytest.exit(
                    f"pytest-xaio: the PostgreSQL server at {where} stopped answering mid-run "
                    f"({str(exc).strip().splitlines()[0]}); the remaining tests were not run\n"
                    "  fix: check why the server died (its log; for the embedded server, server.log in the "
                    "cache dir: `xaio cache`), then run again",
                    returncode=pytest.ExitCode.TESTS_FAILED,
                )
            raise

    def release_held(self) -> None:
        """End a run of tests sharing held rows: roll its transaction back."""
        _holding.discard(self)
        self._collect()
        if self._held is None:
            return
        self._held = None
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            conn._xaio_in_test = False
            conn.rollback()

    def _in_transaction(self, held: HeldRows | None = None) -> Iterator[TestDatabase]:
        with self._setup():
            conn = self._transaction_conn()
            if self._held is not None and (held is None or self._held[0] != held.group):
                self.release_held()  # the rows of another run
            if self._held is None:
                if held is not None:
                    self._make_held(conn, held)
                conn.execute("SAVEPOINT xaio_test")
            # else: the savepoint after the held rows is still there (the last test rolled back to it)
        conn._xaio_in_test = True
        db = TestDatabase(self, "transaction", self.worker_db, conn)
        if self._held is not None:
            db.held = _own_copy(self._held[1])
        try:
            yield db
        finally:
            keep = held is not None and held.continues and self._held is not None
            conn._xaio_in_test = False
            # Closing SQLAlchemy's connection rolls back: _end_test does that (not waiting for it) and
            # knows whether the run's shared rows stay.
            conn._xaio_mute_rollback = True
            try:
                db.close()
            finally:
                conn._xaio_mute_rollback = False
                if not conn.closed and not conn.broken:
                    self._end_test(conn, keep)

    def _make_held(self, conn: _TestConnection, held: HeldRows) -> None:
        conn._xaio_in_test = True  # a commit() in make() is refused, as in a test
        try:
            value = held.make(conn)
        except BaseException:
            conn._xaio_in_test = False
            conn.rollback()
            raise
        conn._xaio_in_test = False
        self._held = (held.group, value)
        _holding.add(self)

    def _end_test(self, conn: _TestConnection, keep: bool) -> None:
        """Roll the test back: to the savepoint after the run's shared rows (``keep``), else all of it.
        The rollback is sent now and its answer read before the connection's next use."""
        if keep:
            self._send(conn, b"ROLLBACK TO SAVEPOINT xaio_test")
        elif self._held is not None:
            self.release_held()
        elif conn.pgconn.transaction_status != pq.TransactionStatus.IDLE:
            self._send(conn, b"ROLLBACK")

    def _send(self, conn: _TestConnection, statement: bytes) -> None:
        self._unanswered = True  # when sending fails, _collect() finds out what is wrong with the connection
        try:
            _send_unanswered(conn.pgconn, statement)
        except psycopg.Error:
            pass

    def _collect(self) -> None:
        """Read the answer to the last test's rollback. When it failed, do what its test's end would
        have done: a savepoint that is gone (a real ROLLBACK ran in the test) ends the run of shared
        rows with a full rollback; a connection that broke is closed, to be replaced on next use (the
        server rolled its transaction back)."""
        if not self._unanswered:
            return
        self._unanswered = False
        conn = self._conn
        if conn is None or conn.closed:
            return
        try:
            error = _read_answers(conn.pgconn)
            if conn.pgconn.status == pq.ConnStatus.OK:
                if error is not None and self._held is not None:
                    self.release_held()
                elif error is not None:
                    conn.rollback()
                return
        except psycopg.Error:
            pass
        conn.close()  # _transaction_conn replaces it, forgetting its held rows and engine

    def _truncating(self) -> Iterator[TestDatabase]:
        with self._setup():
            conn = self._autocommit_conn()
            self._user_tables(conn)  # tell seed data from test data before any test has written
        db = TestDatabase(self, "truncate", self.worker_db, conn)
        try:
            yield db
        finally:
            db.close()
            self.truncate_written()

    def _cloned(self) -> Iterator[TestDatabase]:
        with self._setup():
            clone = self.owner.create(template=self.template, kind="clone")
            conn = psycopg.connect(clone.url, autocommit=True)
        db = TestDatabase(self, "clone", clone, conn)
        try:
            yield db
        finally:
            try:
                db.close()
                conn.close()
            finally:
                self.owner.drop(clone)

    # --- truncate -------------------------------------------------------------------------------
    def _user_tables(self, conn: psycopg.Connection[Any]) -> list[str]:
        if self._tables is None:
            rows = conn.execute(
                "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename), tablename "
                "FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
                "ORDER BY 1"
            ).fetchall()
            tables = [qualified for qualified, bare in rows if bare not in self._keep and qualified not in self._keep]
            # Tables the template already filled are seed data: keep them too.
            seeded = set(_non_empty(conn, tables))
            self._tables = [t for t in tables if t not in seeded]
        return self._tables

    def truncate_written(self) -> list[str]:
        """Empty every table that has rows now (the ones the test wrote), except the keep-list."""
        conn = self._autocommit_conn()
        written = _non_empty(conn, self._user_tables(conn))
        if written:
            conn.execute("SET lock_timeout = '10s'")
            conn.execute(
                sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(sql.SQL(", ").join(sql.SQL(t) for t in written))
            )
        return written

    def close(self) -> None:
        _holding.discard(self)
        for conn in (self._conn, self._auto_conn):
            if conn is not None and not conn.closed:
                conn.close()
        if self._engine is not None:
            self._engine.dispose()


def _own_copy(value: Any) -> Any:
    """A shallow copy for each test of a run, so a test that changes an attribute changes its own;
    an ORM instance (its state is tied to the object) is handed over as it is."""
    if hasattr(value, "_sa_instance_state"):
        return value
    try:
        return copy.copy(value)
    except Exception:
        return value


def _non_empty(conn: psycopg.Connection[Any], tables: list[str]) -> list[str]:
    if not tables:
        return []
    # Table names come from pg_tables through quote_ident, so they are safe to splice.
    query = " UNION ALL ".join(f"SELECT {i} FROM (SELECT 1 FROM {t} LIMIT 1) AS x{i}" for i, t in enumerate(tables))
    rows = conn.execute(query.encode()).fetchall()
    return [tables[int(r[0])] for r in rows]


def _send_unanswered(pgconn: pq.abc.PGconn, statement: bytes) -> None:
    """Send one statement (simple query protocol) without waiting for its answer."""
    pgconn.send_query(statement)
    while pgconn.flush():  # psycopg keeps libpq non-blocking: the rest goes once the socket takes it
        select.select([], [pgconn.socket], [], 1.0)


def _read_answers(pgconn: pq.abc.PGconn) -> str | None:
    """Wait for the answers to what was sent; the server's first error message, or None."""
    error: str | None = None
    while True:
        while pgconn.is_busy():
            select.select([pgconn.socket], [], [], 1.0)
            pgconn.consume_input()
        result = pgconn.get_result()
        if result is None:
            return error
        if result.status != pq.ExecStatus.COMMAND_OK and error is None:
            message = result.error_message or b"the statement failed"
            error = message.decode(errors="replace").strip()
