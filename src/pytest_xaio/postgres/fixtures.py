"""Postgres fixtures: the server, this test's isolated database, and a connection to it.

They chain by parameter, as the objects depend on each other: ``xaio_postgres`` (the server) →
``_xaio_owner`` (what the session creates on it) → ``_xaio_template`` (the migrated template) →
``_xaio_workers`` (this worker's database, env exported) → ``xaio_database`` → ``xaio_db``.
The objects themselves live in :class:`~pytest_xaio.postgres.session.PostgresSession`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from pytest_xaio.config import XaioSettings, get_settings
from pytest_xaio.env import export_env
from pytest_xaio.errors import exit_on_config_error
from pytest_xaio.postgres import PostgresServer
from pytest_xaio.postgres.factories import open_database
from pytest_xaio.postgres.session import postgres_session

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow

    from pytest_xaio.postgres.databases import DatabaseOwner
    from pytest_xaio.postgres.isolation import TestDatabase, WorkerDatabases
    from pytest_xaio.postgres.template import Template

__all__ = ["xaio_database", "xaio_db", "xaio_db_url", "xaio_postgres", "xaio_settings"]


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Before the summary is written (and sent to the xdist controller): the kept worker database's line."""
    postgres_session(session.config).report_kept_database()


@pytest.fixture(scope="session")
def xaio_settings(pytestconfig: pytest.Config) -> XaioSettings:
    """The plugin's resolved settings (command line > env > ini > default).

    Example::

        def test_mode(xaio_settings):
            assert xaio_settings.postgres.isolation == "transaction"
    """
    return get_settings(pytestconfig)


@pytest.fixture(scope="session")
def xaio_postgres(pytestconfig: pytest.Config) -> PostgresServer:
    """The session's running PostgreSQL: ``url``, ``host``, ``port``, ``user``, ``password``, ``version``, ``provider``.

    Example::

        def test_server(xaio_postgres):
            assert xaio_postgres.provider in {"embedded", "url", "container", "local"}
    """
    with exit_on_config_error():
        return postgres_session(pytestconfig).server()


@pytest.fixture(scope="session")
def _xaio_owner(pytestconfig: pytest.Config, xaio_postgres: PostgresServer) -> DatabaseOwner:
    """Creates (and at the end drops) the databases this session makes on the server."""
    with exit_on_config_error():
        return postgres_session(pytestconfig).owner()


@pytest.fixture(scope="session")
def _xaio_template(pytestconfig: pytest.Config, _xaio_owner: DatabaseOwner) -> Template:
    """The migrated template database (built once, cached across runs by the migrations' hash)."""
    with exit_on_config_error():
        return postgres_session(pytestconfig).template()


@pytest.fixture(scope="session")
def _xaio_workers(pytestconfig: pytest.Config, _xaio_template: Template) -> WorkerDatabases:
    """This worker's database, cloned from the template, with the app's environment exported."""
    with exit_on_config_error():
        export_env(pytestconfig)
        return postgres_session(pytestconfig).workers()


@pytest.fixture
def xaio_database(request: pytest.FixtureRequest, _xaio_workers: WorkerDatabases) -> Iterator[TestDatabase]:
    """This test's isolated, migrated database: ``url``, ``connection``, ``isolation``, SQLAlchemy hooks.

    The isolation comes from ``xaio_isolation`` or ``@pytest.mark.xaio_db(isolation=...)``.

    Example::

        def test_orm(xaio_database):
            with xaio_database.session() as session:   # joins the test's transaction
                session.execute(text("INSERT INTO projects (name) VALUES ('a')"))
    """
    yield from open_database(request, workers=_xaio_workers)


@pytest.fixture
def xaio_db_url(xaio_database: TestDatabase) -> str:
    """URL of this test's isolated database, schema already migrated.

    In ``transaction`` isolation this is the worker's database: rows you commit through a connection
    of your own are not rolled back, so use ``xaio_db`` or pick ``truncate``/``clone`` for that.
    """
    return xaio_database.url


@pytest.fixture
def xaio_db(xaio_database: TestDatabase) -> psycopg.Connection[TupleRow]:
    """A psycopg 3 connection to this test's database; what the test writes is gone after it.

    Example::

        def test_insert(xaio_db):
            xaio_db.execute("INSERT INTO projects (name) VALUES ('demo')")
            assert xaio_db.execute("SELECT count(*) FROM projects").fetchone()[0] == 1
    """
    return xaio_database.connection
