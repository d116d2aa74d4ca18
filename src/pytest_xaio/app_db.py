"""The app's DB session dependency pointed at the test's database, for every client of the app.

When ``xaio_db_dependency`` is set (or an async app's session dependency is found in its routes),
:func:`override_db_dependency` puts a replacement in ``app.dependency_overrides`` for the length of
a client's use, so what the app writes is rolled back with the test. The client fixtures
(:mod:`pytest_xaio.client`) and the matrix's clients use it.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from pytest_xaio.config import get_settings
from pytest_xaio.errors import config_error, exit_on_config_error
from pytest_xaio.resolve import resolve_object

__all__ = ["override_db_dependency"]


@contextmanager
def override_db_dependency(request: pytest.FixtureRequest, app: Any) -> Iterator[Any]:
    """While the block runs, ``app.dependency_overrides[<xaio_db_dependency>]`` yields sessions in the
    test's database (``xaio_database.session_dependency()``). Does nothing when the setting is unset."""
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
    missing = object()
    previous = overrides.get(dependency, missing)
    overrides[dependency] = replacement
    try:
        yield database
    finally:
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
