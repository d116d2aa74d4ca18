"""Fixture factories: compose another database fixture from the parts ``xaio_database`` uses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_xaio.config import ISOLATIONS
from pytest_xaio.env import export_env
from pytest_xaio.errors import exit_on_config_error
from pytest_xaio.markers import marker_options
from pytest_xaio.postgres import PostgresServer
from pytest_xaio.postgres.session import postgres_session

if TYPE_CHECKING:  # psycopg is imported on first use, not when the plugin loads
    from pytest_xaio.postgres.isolation import HeldRows, TestDatabase, WorkerDatabases

__all__ = ["database_fixture", "held_rows_key", "open_database", "server_from"]

#: On a test item: the rows it shares with the tests around it (postgres/isolation.py, HeldRows).
held_rows_key: pytest.StashKey[HeldRows] = pytest.StashKey()


def open_database(
    request: pytest.FixtureRequest,
    *,
    isolation: str | None = None,
    migrations: str | None = None,
    schema_sql: str | None = None,
    workers: WorkerDatabases | None = None,
) -> Iterator[TestDatabase]:
    """The body of every database fixture: pick the isolation, make the databases, yield one test's.

    ``workers`` are the worker's databases to use (the ``_xaio_workers`` fixture's for the configured
    schema); without them they are made for ``migrations`` / ``schema_sql``.
    """
    postgres = postgres_session(request.config)
    chosen = isolation or marker_options(request.node, "xaio_db").isolation or postgres.settings.postgres.isolation
    if workers is None:
        with exit_on_config_error():
            export_env(request.config)
            workers = postgres.workers(migrations, schema_sql)
    spec = None
    held = None
    if migrations is None and schema_sql is None:
        from pytest_xaio.postgres.aio import async_spec

        spec = async_spec(request)
        # Rows a run of tests shares (the endpoint matrix's xaio_user): the default database only.
        held = request.node.stash.get(held_rows_key, None)
    if spec is not None:  # an async app: the test's rows go through the app's async connection
        from pytest_xaio.postgres.aio import async_test_database

        with async_test_database(request, workers, chosen, spec) as db:
            yield db
        return
    with workers.test_database(chosen, held) as db:
        yield db


def database_fixture(
    *,
    isolation: str | None = None,
    migrations: str | None = None,
    schema_sql: str | None = None,
) -> Callable[..., Any]:
    """Make a function-scoped fixture yielding a ``TestDatabase``, like ``xaio_database``.

    ``migrations`` / ``schema_sql`` give it a schema (and a cached template) of its own; ``isolation``
    fixes its isolation regardless of ``xaio_isolation``. In a conftest.py::

        from pytest_xaio.postgres.factories import database_fixture

        analytics_db = database_fixture(schema_sql="analytics/schema.sql", isolation="clone")

        def test_report(analytics_db):
            analytics_db.connection.execute("INSERT INTO events (kind) VALUES ('signup')")
    """
    if isolation is not None and isolation not in ISOLATIONS:
        raise ValueError(f"isolation must be {', '.join(ISOLATIONS[:-1])} or {ISOLATIONS[-1]}, not {isolation!r}")

    @pytest.fixture
    def _database(request: pytest.FixtureRequest, xaio_postgres: PostgresServer) -> Iterator[TestDatabase]:
        yield from open_database(request, isolation=isolation, migrations=migrations, schema_sql=schema_sql)

    return _database


def server_from(fixture_name: str) -> Callable[..., Any]:
    """Make an ``xaio_postgres`` fixture that uses a pytest-postgresql process fixture as the server.

    A project that already runs PostgreSQL through pytest-postgresql hands that server to the plugin,
    which then creates its template and test databases there (and drops only those). In a
    conftest.py::

        from pytest_postgresql import factories
        from pytest_xaio.postgres.factories import server_from

        postgresql_proc = factories.postgresql_proc()          # or factories.postgresql_noproc(...)
        xaio_postgres = server_from("postgresql_proc")
    """

    @pytest.fixture(scope="session", name="xaio_postgres")
    def fixture(request: pytest.FixtureRequest) -> PostgresServer:
        from pytest_xaio.errors import config_error
        from pytest_xaio.postgres import is_local_host

        executor = request.getfixturevalue(fixture_name)
        session = postgres_session(request.config)
        with exit_on_config_error():
            host = str(getattr(executor, "host", "") or "")
            if not host or not hasattr(executor, "port") or not hasattr(executor, "user"):
                config_error(
                    f"the fixture {fixture_name!r} gave a {type(executor).__name__}, not a pytest-postgresql executor",
                    "name a postgresql_proc or postgresql_noproc fixture of pytest-postgresql",
                )
            if not is_local_host(host, resolve=True) and not session.settings.postgres.allow_remote:
                config_error(
                    f"the fixture {fixture_name!r} points at {host}, which is not this machine",
                    "pass --xaio-allow-remote (it only ever drops the xaio_* databases it created), "
                    "or use a local server",
                )
            server = PostgresServer(
                host=host,
                port=int(executor.port),
                user=str(executor.user),
                password=getattr(executor, "password", None) or None,
                version=str(executor.version),
                provider=f"pytest-postgresql:{fixture_name}",
            )
            return session.adopt(server)

    return fixture
