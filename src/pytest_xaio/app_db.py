"""The app's DB session dependency pointed at the test's database, for every client of the app.

When ``xaio_db_dependency`` is set (or an async app's session dependency is found in its routes),
:func:`override_db_dependency` puts a replacement in ``app.dependency_overrides`` for the length of
a client's use, so what the app writes is rolled back with the test. The client fixtures
(:mod:`pytest_xaio.client`) and the matrix's clients use it.

The function put there is one per dependency for the whole session (:class:`_Forwarder`), pointed
at each test's own replacement in turn: FastAPI rebuilds the dependency tree of a request while
overrides are set, and with the same callable every time what it built is remembered
(:mod:`pytest_xaio.dependants`) instead of built again for every test.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest

from pytest_xaio.config import get_settings
from pytest_xaio.errors import config_error, exit_on_config_error
from pytest_xaio.patching import Patcher
from pytest_xaio.resolve import resolve_object
from pytest_xaio.runtime import XaioRuntime, session_object

__all__ = ["override_db_dependency"]


@contextmanager
def override_db_dependency(request: pytest.FixtureRequest, app: Any) -> Iterator[Any]:
    """While the block runs, ``app.dependency_overrides[<xaio_db_dependency>]`` yields sessions in the
    test's database (a session on the test's connection). Does nothing when the setting is unset."""
    spec = get_settings(request.config).postgres.db_dependency
    # A mock-DB test gets the recording session instead; a real database would only be wasted.
    if request.node.get_closest_marker("xaio_mock_db") or "xaio_db_mock" in request.fixturenames:
        yield None
        return
    dependency: Any = None
    if not spec and get_settings(request.config).postgres.postgres != "none":
        # An async app's session dependency is found in its routes (postgres/aio.py) when not named.
        from pytest_xaio.postgres.aio import detected_dependency

        with exit_on_config_error():
            dependency = detected_dependency(request.config)
    if not spec and dependency is None:
        yield None
        return
    with exit_on_config_error():
        if dependency is None:
            dependency = resolve_object(str(spec), setting="xaio_db_dependency", rootdir=str(request.config.rootpath))
        overrides = getattr(app, "dependency_overrides", None)
        if not isinstance(overrides, dict):
            config_error(
                f"xaio_db_dependency is set, but the app {type(app).__name__} has no dependency_overrides",
                "point xaio_app at the FastAPI instance itself, not a wrapper around it",
            )
    database = request.getfixturevalue("xaio_database")
    replacement = _session_override(request, dependency, database)
    forwarder = session_object(request.config, _forwarders_key, _Forwarders).get(dependency)
    missing = object()
    previous = overrides.get(dependency, missing)
    previous_target = forwarder.target
    forwarder.target = replacement
    overrides[dependency] = forwarder.dependency
    try:
        yield database
    finally:
        forwarder.target = previous_target
        if previous is missing:
            overrides.pop(dependency, None)
        else:
            overrides[dependency] = previous
        close = getattr(replacement, "xaio_close", None)
        if close is not None:
            close()


def _session_override(request: pytest.FixtureRequest, dependency: Any, database: Any) -> Any:
    """What replaces the app's dependency: a sync session in the test's transaction, or for an async
    generator dependency the app's async session on the test's async connection (postgres/aio.py)."""
    if not inspect.isasyncgenfunction(inspect.unwrap(dependency)):
        # the class the app's dependency yields (sqlmodel.Session, its sessionmaker's class and options)
        from pytest_xaio.postgres.session_class import session_override

        with exit_on_config_error():
            return session_override(
                database,
                dependency,
                get_settings(request.config).postgres.db_session_class,
                rootdir=str(request.config.rootpath),
            )
    from pytest_xaio.postgres.aio import async_spec, session_dependency

    spec = async_spec(request)
    if spec is None or (database.isolation == "transaction" and database.async_bind is None):
        with exit_on_config_error():
            config_error(
                "xaio_database was set up before the app was loaded, so it is not on the async app's connection",
                "request the client fixture (or xaio_app) before xaio_db / xaio_database in the test's arguments",
            )
    assert spec is not None
    return session_dependency(database, spec)


class _Forwarder:
    """The override one dependency gets for the whole session: an async generator dependency that
    hands each request to the replacement of the test in force (:attr:`target`), exceptions and
    all (the app's ``except`` around ``yield`` still sees the endpoint's error)."""

    def __init__(self) -> None:
        self.target: Callable[[], AsyncIterator[Any]] | None = None
        forwarder = self

        async def dependency() -> AsyncIterator[Any]:
            target = forwarder.target
            if target is None:  # a request after its test ended (a leftover background task)
                raise RuntimeError("pytest-xaio: the test whose database this dependency served has ended")
            async with asynccontextmanager(target)() as value:
                yield value

        self.dependency = dependency


class _Forwarders:
    """The session's forwarders, one per dependency, and FastAPI told to remember its rebuilds."""

    def __init__(self, runtime: XaioRuntime) -> None:
        self._forwarders: dict[Any, _Forwarder] = {}
        self._patcher = Patcher()
        runtime.exit_stack.callback(self._patcher.undo)
        self._remembering = False

    def get(self, dependency: Any) -> _Forwarder:
        if not self._remembering:  # FastAPI is imported once an app with overrides is
            from pytest_xaio.dependants import remember_dependants

            self._remembering = remember_dependants(self._patcher)
        forwarder = self._forwarders.get(dependency)
        if forwarder is None:
            forwarder = self._forwarders[dependency] = _Forwarder()
        return forwarder


_forwarders_key = pytest.StashKey[_Forwarders]()
