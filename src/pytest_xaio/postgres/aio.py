"""Transaction isolation for async SQLAlchemy apps (asyncpg or psycopg's async mode).

When the app's session dependency is an async generator, each test gets what sync apps get: one
outer transaction on one connection, rolled back at the end. The connection is opened with the
app's own driver on the session's app loop (:mod:`pytest_xaio.loop`), and the dependency is
overridden with the app's own session class bound to it with ``join_transaction_mode=
"create_savepoint"``, so the app's ``commit()``, ``begin()`` and ``begin_nested()`` work and
leave nothing behind. ``xaio_db`` (and through it the user hook and path-parameter fixtures)
then writes through the same connection (:class:`~pytest_xaio.postgres.aio_db.AsyncBackedConnection`),
so the app sees the test's rows and the test sees the app's.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from pytest_xaio.runtime import XaioRuntime, session_object

if TYPE_CHECKING:
    from pytest_xaio.loop import AppLoop
    from pytest_xaio.postgres.isolation import TestDatabase, WorkerDatabases

__all__ = [
    "AsyncSessionSpec",
    "AsyncWorkerConnection",
    "async_spec",
    "detect_async_session",
    "detected_dependency",
    "find_async_session_dependency",
    "session_dependency",
]


class _AioSession:
    """This session's answer about the app's dependency, and the async connection per worker database."""

    def __init__(self, runtime: XaioRuntime) -> None:
        self.runtime = runtime
        self.checked = False
        self.spec: AsyncSessionSpec | None = None
        self.connections: dict[str, AsyncWorkerConnection] = {}


_aio_key = pytest.StashKey[_AioSession]()


def _aio_session(config: pytest.Config) -> _AioSession:
    return session_object(config, _aio_key, _AioSession)


@dataclass(frozen=True)
class AsyncSessionSpec:
    """What the app's async session dependency makes: its session class, options and driver."""

    dependency: Any
    session_class: Any
    options: dict[str, Any] = field(default_factory=dict)
    drivername: str = "postgresql+asyncpg"

    def url(self, url: str) -> str:
        """``url`` (a libpq URL of a test database) with the app's async driver."""
        _scheme, sep, rest = url.partition("://")
        return f"{self.drivername}{sep}{rest}"


def detect_async_session(dependency: Any) -> AsyncSessionSpec | None:
    """The async session the dependency yields, or None when it is not an async generator.

    The session class and options come from an ``async_sessionmaker`` (or an ``AsyncSession``
    subclass) the dependency's module uses, the driver from its engine; the fallbacks are
    SQLAlchemy's ``AsyncSession`` and asyncpg (psycopg's async mode when asyncpg is not installed).
    """
    func = inspect.unwrap(dependency)
    if not inspect.isasyncgenfunction(func):
        return None
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    candidates = _reachable(func)
    maker = next((c for c in candidates if isinstance(c, async_sessionmaker)), None)
    bind: Any = None
    if maker is not None:
        session_class = maker.class_
        options = {k: v for k, v in maker.kw.items() if k not in ("bind", "binds", "join_transaction_mode")}
        bind = maker.kw.get("bind")
    else:
        classes = [c for c in candidates if isinstance(c, type) and issubclass(c, AsyncSession)]
        session_class = classes[0] if classes else AsyncSession
        options = {}
    if not isinstance(bind, AsyncEngine):
        bind = next((c for c in candidates if isinstance(c, AsyncEngine)), None)
    if isinstance(bind, AsyncEngine):
        drivername = bind.url.drivername
    else:
        asyncpg = importlib.util.find_spec("asyncpg") is not None
        drivername = "postgresql+asyncpg" if asyncpg else "postgresql+psycopg_async"
    return AsyncSessionSpec(dependency, session_class, options, drivername)


def _reachable(func: Any, depth: int = 3) -> list[Any]:
    """Objects the dependency can reach: the names it uses, then (for a dependency that delegates,
    ``async for s in database_session.get_session(): yield s``) what the modules and functions it
    uses reach in turn, then the rest of its module. Nearest first."""
    import types

    found: list[Any] = []
    seen: set[int] = set()

    def add(value: Any) -> None:
        if id(value) not in seen:
            seen.add(id(value))
            found.append(value)

    def walk(target: Any, level: int) -> None:
        target = inspect.unwrap(target)
        namespace: dict[str, Any] = getattr(target, "__globals__", {})
        code = getattr(target, "__code__", None)
        names = list(getattr(code, "co_names", ()))
        for const in getattr(code, "co_consts", ()):  # names used by nested code (async with ... blocks)
            if isinstance(const, types.CodeType):
                names.extend(const.co_names)
        used = [namespace[n] for n in names if n in namespace]
        for value in used:
            add(value)
        if level <= 0:
            return
        for value in used:
            if isinstance(value, types.ModuleType):
                attrs = [getattr(value, n) for n in names if hasattr(value, n)]
                for attr in attrs:
                    add(attr)
                    if inspect.isfunction(attr):
                        walk(attr, level - 1)
            elif inspect.isfunction(value):
                walk(value, level - 1)

    walk(func, depth)
    for value in getattr(inspect.unwrap(func), "__globals__", {}).values():
        add(value)
    return found


def async_spec(request: pytest.FixtureRequest) -> AsyncSessionSpec | None:
    """This session's async session spec, when ``xaio_db_dependency`` names an async generator.

    The dependency is looked at only once the app is imported or the test uses the app, so a plain
    database test never imports the app (and its heavy libraries) just to find out.
    """
    aio = _aio_session(request.config)
    if aio.checked:
        return aio.spec
    name = aio.runtime.settings.postgres.db_dependency
    if not name:
        return _detected_spec(request.config, aio)
    module = name.strip().partition(":")[0]
    if module not in sys.modules and "xaio_app" not in request.fixturenames:
        return None
    from pytest_xaio.app import prepare_env
    from pytest_xaio.errors import exit_on_config_error
    from pytest_xaio.resolve import resolve_object

    with exit_on_config_error():
        prepare_env(request.config)
        dependency = resolve_object(name, setting="xaio_db_dependency", rootdir=str(request.config.rootpath))
    spec = detect_async_session(dependency)
    aio.checked, aio.spec = True, spec
    if spec is not None:
        aio.runtime.add_summary(
            f"xaio: async session dependency {name}: {spec.session_class.__name__} on {spec.drivername}, "
            "one rolled-back transaction per test"
        )
    return spec


def detected_dependency(config: pytest.Config) -> Any:
    """With ``xaio_db_dependency`` unset: the app's async session dependency found in its routes."""
    aio = _aio_session(config)
    spec = aio.spec if aio.checked else _detected_spec(config, aio)
    return None if spec is None else spec.dependency


def _detected_spec(config: pytest.Config, aio: _AioSession) -> AsyncSessionSpec | None:
    """Look for the session dependency in the loaded app's routes (never imports the app itself)."""
    from pytest_xaio.app import loaded_apps

    apps = loaded_apps(config)
    if not apps:
        return None
    found = find_async_session_dependency(apps[0])
    aio.checked = True
    if found is None:
        return None
    aio.spec = detect_async_session(found)
    if aio.spec is not None:
        where = f"{getattr(found, '__module__', '?')}:{getattr(found, '__qualname__', '?')}"
        aio.runtime.add_summary(
            f"xaio: async session dependency {where} (found in the app's routes; set xaio_db_dependency to pick "
            f"another): {aio.spec.session_class.__name__} on {aio.spec.drivername}, one rolled-back transaction "
            "per test"
        )
    return aio.spec


def find_async_session_dependency(app: Any) -> Any:
    """The async generator dependency of the app's routes that yields an ``AsyncSession`` (the one
    most routes use), or None. A dependency counts when its return annotation names an AsyncSession
    or it reaches an ``async_sessionmaker``."""
    if "sqlalchemy.ext.asyncio" not in sys.modules:  # the app would have imported it
        return None
    from sqlalchemy.ext.asyncio import async_sessionmaker

    counts: dict[Any, int] = {}
    checked: dict[Any, bool] = {}

    def is_session_dependency(call: Any) -> bool:
        if call not in checked:
            func = inspect.unwrap(call)
            ok = inspect.isasyncgenfunction(func)
            if ok:
                annotation = str(getattr(func, "__annotations__", {}).get("return", ""))
                ok = "AsyncSession" in annotation or any(isinstance(v, async_sessionmaker) for v in _reachable(func))
            checked[call] = ok
        return checked[call]

    def walk(dependant: Any, depth: int) -> None:
        for sub in getattr(dependant, "dependencies", ()) or ():
            call = getattr(sub, "call", None)
            if call is not None and is_session_dependency(call):
                counts[call] = counts.get(call, 0) + 1
            elif depth < 8:
                walk(sub, depth + 1)

    from fastapi import routing

    routes = getattr(app, "routes", ()) or ()
    # Newer FastAPI keeps an included router's routes behind route contexts (iter_route_contexts).
    iter_contexts = getattr(routing, "iter_route_contexts", None)
    for route in iter_contexts(routes) if iter_contexts is not None else routes:
        dependant = getattr(route, "dependant", None)
        if dependant is not None:
            walk(dependant, 0)
    if not counts:
        return None
    return max(counts, key=lambda call: counts[call])


class AsyncWorkerConnection:
    """The worker's async connection on the app loop; each test runs in one transaction on it.

    The transaction is begun lazily: the drivers send ``BEGIN`` with the first statement, so a test
    that touches nothing costs no round trip. The rollback after a test is handed to the app loop
    without waiting for it (the next test, a test on another isolation and the session's end wait
    for it first), and the next test's transaction is begun there too, so the main thread crosses
    over to the loop thread neither when a test starts nor when it ends.
    """

    def __init__(self, loop: AppLoop, url: str) -> None:
        self.loop = loop
        self.url = url
        self._engine: Any = None
        self.connection: Any = None
        self._transaction: Any = None
        self._pending: Future[None] | None = None

    def _connected(self) -> bool:
        connection = self.connection
        return connection is not None and not connection.closed and not connection.invalidated

    def _ready(self) -> bool:
        return self._connected() and self._transaction is not None and self._transaction.is_active

    async def _begin(self) -> None:
        if not self._connected():
            from sqlalchemy.ext.asyncio import create_async_engine
            from sqlalchemy.pool import NullPool

            if self._engine is None:
                self._engine = create_async_engine(self.url, poolclass=NullPool)
            self.connection = await self._engine.connect()
        self._transaction = await self.connection.begin()

    async def _end(self) -> None:
        transaction, self._transaction = self._transaction, None
        if transaction is not None and transaction.is_active:
            try:
                await transaction.rollback()
            except Exception:
                await self._drop_connection()  # a broken connection: the next test opens a new one

    async def _end_and_begin(self) -> None:
        """After a test: roll its transaction back and begin the next one (no round trip), unless
        the connection broke; then the next test connects again, and says so if it cannot."""
        await self._end()
        if self.connection is not None:
            try:
                await self._begin()
            except Exception:
                self._transaction = None

    async def _restart(self) -> None:
        """``xaio_db.rollback()``: back to the start of the test, in a new transaction."""
        await self._end()
        await self._begin()

    async def _drop_connection(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                await connection.invalidate()
            except Exception:
                pass

    async def _close(self) -> None:
        await self._end()
        if self.connection is not None:
            await self.connection.close()
            self.connection = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    def settle(self) -> None:
        """Wait for the last test's rollback (it is run without waiting for it)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()  # _end_and_begin handles its errors: this only waits

    def restart(self) -> None:
        self.loop.call(self._restart)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        self.settle()
        if not self._ready():
            self.loop.call(self._begin)
        try:
            yield self.connection
        finally:
            self._pending = self.loop.submit(self._end_and_begin)

    def close(self) -> None:
        self.settle()
        self.loop.call(self._close)


def worker_connection(
    request: pytest.FixtureRequest, workers: WorkerDatabases, spec: AsyncSessionSpec
) -> AsyncWorkerConnection:
    """The worker's async connection for ``workers`` (one per session, closed before the loop stops)."""
    from pytest_xaio.loop import app_loop

    aio = _aio_session(request.config)
    name = workers.worker_db.name
    conn = aio.connections.get(name)
    if conn is None:
        conn = AsyncWorkerConnection(app_loop(request.config), spec.url(workers.worker_db.url))
        aio.connections[name] = conn
        aio.runtime.exit_stack.callback(conn.close)
    return conn


@contextmanager
def async_test_database(
    request: pytest.FixtureRequest, workers: WorkerDatabases, isolation: str, spec: AsyncSessionSpec
) -> Iterator[TestDatabase]:
    """One test's database for an async app: in transaction mode the async connection's transaction,
    with ``connection`` (``xaio_db``) writing through it; truncate and clone as for sync apps."""
    from pytest_xaio.loop import app_loop

    loop = app_loop(request.config)
    if isolation != "transaction":
        earlier = _aio_session(request.config).connections.get(workers.worker_db.name)
        if earlier is not None:  # the last transaction test's rollback, before truncating its tables
            earlier.settle()
        with workers.test_database(isolation) as db:
            db.async_bind = None
            db.async_loop = loop
            yield db
        return
    from pytest_xaio.postgres.aio_db import AsyncBackedConnection
    from pytest_xaio.postgres.isolation import TestDatabase

    worker = worker_connection(request, workers, spec)
    with worker.transaction() as connection:
        facade = AsyncBackedConnection(loop, connection, spec.drivername, worker.restart)
        db = TestDatabase(workers, "transaction", workers.worker_db, facade)  # type: ignore[arg-type]
        db.async_bind = connection
        db.async_loop = loop
        try:
            yield db
        finally:
            facade.close()
            db.close()


def session_dependency(database: TestDatabase, spec: AsyncSessionSpec) -> Callable[[], AsyncIterator[Any]]:
    """The override for the app's async dependency: the app's session class, on the test's database.

    In transaction mode it is bound to the test's connection and its commits release savepoints; in
    truncate and clone modes to an engine on the test's database, disposed after the test.
    """
    bind = getattr(database, "async_bind", None)
    options = dict(spec.options)
    engines: list[Any] = []
    if bind is not None:
        options["join_transaction_mode"] = "create_savepoint"

    async def _dependency() -> AsyncIterator[Any]:
        target = bind
        if target is None:
            if not engines:
                from sqlalchemy.ext.asyncio import create_async_engine
                from sqlalchemy.pool import NullPool

                engines.append(create_async_engine(spec.url(database.url), poolclass=NullPool))
            target = engines[0]
        session = spec.session_class(bind=target, **options)
        try:
            yield session
        finally:
            await session.close()

    async def _dispose() -> None:
        for engine in engines:
            await engine.dispose()

    def _close() -> None:  # after the test; crosses to the app loop only when an engine was made
        if engines:
            database.async_loop.call(_dispose)

    _dependency.xaio_close = _close  # type: ignore[attr-defined]
    return _dependency
