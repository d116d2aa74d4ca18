"""Postgres fixtures: the server, this test's isolated database, and a connection to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_xaio.config import XaioSettings, get_settings
from pytest_xaio.errors import exit_on_config_error
from pytest_xaio.postgres import PostgresServer
from pytest_xaio.postgres.factories import open_database
from pytest_xaio.runtime import get_runtime

if TYPE_CHECKING:
    from pytest_xaio.postgres.isolation import TestDatabase

__all__ = ["xaio_database", "xaio_db", "xaio_db_url", "xaio_postgres", "xaio_settings"]


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
        return get_runtime(pytestconfig).postgres()


@pytest.fixture
def xaio_database(request: pytest.FixtureRequest) -> Iterator[TestDatabase]:
    """This test's isolated, migrated database: ``url``, ``connection``, ``isolation``, SQLAlchemy hooks.

    The isolation comes from ``xaio_isolation`` or ``@pytest.mark.xaio_db(isolation=...)``.

    Example::

        def test_orm(xaio_database):
            with xaio_database.session() as session:   # joins the test's transaction
                session.execute(text("INSERT INTO projects (name) VALUES ('a')"))
    """
    yield from open_database(request)


@pytest.fixture
def xaio_db_url(xaio_database: TestDatabase) -> str:
    """URL of this test's isolated database, schema already migrated.

    In ``transaction`` isolation this is the worker's database: rows you commit through a connection
    of your own are not rolled back, so use ``xaio_db`` or pick ``truncate``/``clone`` for that.
    """
    return xaio_database.url


@pytest.fixture
def xaio_db(xaio_database: TestDatabase) -> Any:
    """A psycopg 3 connection to this test's database; what the test writes is gone after it.

    Example::

        def test_insert(xaio_db):
            xaio_db.execute("INSERT INTO projects (name) VALUES ('demo')")
            assert xaio_db.execute("SELECT count(*) FROM projects").fetchone()[0] == 1
    """
    return xaio_database.connection
