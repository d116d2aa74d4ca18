"""The session's PostgreSQL: the server, the owner of the databases made on it, the migrated
template, this worker's database and the per-template isolation helpers, each made on first use.

The fixtures in ``postgres/fixtures.py`` hand these over in a chain (server → owner → template →
worker databases → the test's database), so ``pytest --setup-plan`` shows what a test really uses.
psycopg and the providers are imported only when something is started.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pytest_xaio.errors import config_error
from pytest_xaio.runtime import XaioRuntime, session_object

if TYPE_CHECKING:
    from pytest_xaio.postgres import PostgresServer
    from pytest_xaio.postgres.connection_guard import ConnectionGuard
    from pytest_xaio.postgres.databases import DatabaseOwner, OwnedDatabase
    from pytest_xaio.postgres.isolation import WorkerDatabases
    from pytest_xaio.postgres.reuse import ReusedWorker
    from pytest_xaio.postgres.template import Template

__all__ = ["PostgresSession", "postgres_session"]


class PostgresSession:
    """The server and the databases this session (or xdist worker) made on it; torn down once."""

    def __init__(self, runtime: XaioRuntime) -> None:
        self._runtime = runtime
        self.settings = runtime.settings
        self._server: PostgresServer | None = None
        self._owner: DatabaseOwner | None = None
        self._template: Template | None = None
        self._worker_db: OwnedDatabase | None = None
        self._workers: dict[tuple[str | None, str | None], WorkerDatabases] = {}
        self.guard: ConnectionGuard | None = None  # the connection guard, once the server runs
        self._admin_conn: Any = None  # the provider's open admin connection, for the owner to keep
        self._kept: ReusedWorker | None = None  # the worker database kept across runs, when there is one

    @property
    def enabled(self) -> bool:
        return self.settings.postgres.postgres != "none"

    def server(self) -> PostgresServer:
        if self._server is None:
            if not self.enabled:
                config_error(
                    "a test asked for PostgreSQL but xaio_postgres is 'none'",
                    "remove xaio_postgres = none, or don't use the xaio_db fixtures in this run",
                )
            from pytest_xaio.postgres.providers import start_postgres

            self._server = start_postgres(self.settings, self._runtime.exit_stack, self._keep_admin_connection)
            from pytest_xaio.postgres.guard_policy import install_guard

            self.guard = install_guard(self._server, self.settings)  # only in a run that tests an app
            if self.guard is not None:
                self._runtime.exit_stack.callback(self.guard.uninstall)
        return self._server

    def _keep_admin_connection(self, conn: Any) -> None:
        self._admin_conn = conn
        self._runtime.exit_stack.callback(conn.close)  # closed here if no owner ever takes it over

    def adopt(self, server: PostgresServer) -> PostgresServer:
        """Use a server someone else runs (a pytest-postgresql process fixture) instead of starting one."""
        if self._server is not None and (self._server.host, self._server.port) != (server.host, server.port):
            config_error(
                f"{server.provider} was handed to pytest-xaio after it had already started "
                f"{self._server.provider} on {self._server.host}:{self._server.port}",
                "set xaio_postgres = none until the fixture runs, or don't import the app in conftest.py at "
                "module level (the app is loaded after the server is known)",
            )
        if self._server != server:
            self._admin_conn = None  # connected as the other server's user: the owner opens its own
        self._server = server
        return server

    def server_if_started(self) -> PostgresServer | None:
        """The server if something already asked for it (never starts one)."""
        return self._server

    def owner(self) -> DatabaseOwner:
        if self._owner is None:
            from pytest_xaio.postgres.databases import DatabaseOwner

            server = self.server()
            conn = self._admin_conn if self._admin_conn is not None and not self._admin_conn.closed else None
            self._admin_conn = None
            self._owner = DatabaseOwner(
                server,
                self.settings.project,
                self.settings.worker,
                location=self.settings.rootdir,
                connection=conn,
                keep_connection=True,
            )
            self._runtime.exit_stack.callback(self._owner.drop_all)
            self._owner.drop_stale()
        return self._owner

    def template(self) -> Template:
        if self._template is None:
            from pytest_xaio.postgres.template import ensure_template

            self._template = ensure_template(self.owner(), self.settings)
            server = self.server()
            state = "cached" if self._template.cached else "built"
            self._runtime.add_summary(
                f"xaio: postgres {server.version} {server.provider} {server.host}:{server.port}, "
                f"template {state} (hash {self._template.digest[:12]})"
            )
        return self._template

    def worker_database(self) -> OwnedDatabase:
        """This worker's database, cloned from the template once per session."""
        if self._worker_db is None:
            template = self.template()
            if self.settings.postgres.reuse_db and self.settings.postgres.isolation == "transaction":
                self._worker_db = self._kept_worker_database(template)
            if self._worker_db is None:
                self._worker_db = self.owner().create(template=template.name, kind="worker")
        return self._worker_db

    def _kept_worker_database(self, template: Template) -> OwnedDatabase | None:
        """The worker database kept from an earlier run (see ``postgres/reuse.py``), or None when
        every slot is taken: then a throwaway one is cloned as in the other isolation modes."""
        import os

        from pytest_xaio.postgres import reuse

        config = self._runtime.config
        root = str(config.rootpath) if config is not None else os.getcwd()
        kept = reuse.acquire(self.owner(), template.name, template.digest, root)
        if kept is None:
            return None
        self._runtime.exit_stack.callback(kept.release)
        self._kept = kept
        return kept.db

    def report_kept_database(self) -> None:
        """Once the tests are done: the kept worker database's summary line, which says so when
        something was committed to it outside the tests' transactions (a test may have seen an
        earlier one's rows)."""
        kept = self._kept
        if kept is None:
            return
        how = "reused" if kept.reused else "cloned"
        kept.check_after_tests()
        if kept.unreachable:
            self._runtime.add_summary(
                f"xaio: worker database {kept.db.name} ({how}) could not be checked: the server did not answer; "
                "the next run clones a fresh one"
            )
            return
        if not kept.changed:
            self._runtime.add_summary(f"xaio: worker database {kept.db.name} {how}, kept for the next run")
            return
        written = kept.written
        if written:
            tables = ", ".join(written[:5]) + (f" and {len(written) - 5} more" if len(written) > 5 else "")
            what = f"rows were committed to the worker database {kept.db.name} ({how}), in {tables},"
        else:
            what = f"the schema of the worker database {kept.db.name} ({how}) was changed (DDL committed)"
        self._runtime.add_summary(
            f"xaio: {what} outside the tests' rolled-back transactions: a test may have seen what an earlier "
            "one left. It is dropped at the end; the next run clones a fresh one."
        )
        self._runtime.add_summary(
            "xaio:   fix: let the app reach the database through xaio_db_dependency (its sessions then join "
            "each test's transaction); for tests whose code commits on connections of its own, "
            '@pytest.mark.xaio_db(isolation="truncate") (xaio_isolation = truncate for the whole run)'
        )

    def workers(self, migrations: str | None = None, schema_sql: str | None = None) -> WorkerDatabases:
        """The worker's databases for a template, made on first use.

        With no arguments: the configured schema (``xaio_migrations`` / ``xaio_schema_sql``). With
        either one: a second template of its own, for fixtures built by ``database_fixture``.
        """
        key = (migrations, schema_sql)
        workers = self._workers.get(key)
        if workers is None:
            from pytest_xaio.postgres.isolation import WorkerDatabases

            if migrations is None and schema_sql is None:
                template, worker_db = self.template().name, self.worker_database()
            else:
                from pytest_xaio.postgres.template import ensure_template

                settings = self.settings.replace("postgres", migrations=migrations, schema_sql=schema_sql)
                template = ensure_template(self.owner(), settings).name
                worker_db = self.owner().create(template=template, kind="worker")
            workers = WorkerDatabases(self.owner(), template, worker_db, self.settings.postgres.keep_tables)
            self._workers[key] = workers
            self._runtime.exit_stack.callback(workers.close)
        return workers


_postgres_key = pytest.StashKey[PostgresSession]()


def postgres_session(config: pytest.Config) -> PostgresSession:
    """The session's :class:`PostgresSession` (nothing is started until a method asks for it)."""
    return session_object(config, _postgres_key, PostgresSession)
