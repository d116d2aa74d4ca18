"""A scratch database to walk migrations up and down in (the ``xaio_migrations`` fixture).

It is never the shared template: it starts empty, is created and dropped through the session's
``DatabaseOwner`` (so it carries the plugin's mark), and lives for one test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_xaio.db import schema
from pytest_xaio.migrations.source import (
    MigrationError,
    MigrationSource,
    alembic_current,
    alembic_downgrade,
    alembic_heads,
    alembic_upgrade,
    apply_sql_file,
    sql_applied,
    sql_downgrade,
    sql_upgrade,
)

if TYPE_CHECKING:
    from pytest_xaio.postgres.databases import DatabaseOwner, OwnedDatabase

__all__ = ["Migrator"]


class Migrator:
    """Migrations applied on demand to an empty database of this test's own.

    Example::

        def test_waitlist(xaio_migrations):
            xaio_migrations.upgrade(to="074")
            assert not xaio_migrations.table_exists("waitlist")
            xaio_migrations.upgrade(to="075")
            assert {c.name for c in xaio_migrations.columns("waitlist")} >= {"email", "status"}
            xaio_migrations.downgrade(to="074")
            assert not xaio_migrations.table_exists("waitlist")
    """

    def __init__(self, owner: DatabaseOwner, source: MigrationSource, *, kind: str = "migr") -> None:
        if source.kind == "none":
            from pytest_xaio.errors import config_error

            config_error(
                "xaio_migrations is not set, so there are no migrations to walk",
                "set xaio_migrations to an alembic.ini or a folder of V001__name.sql files",
            )
        self.source = source
        self._owner = owner
        self._kind = kind
        self._db: OwnedDatabase | None = None
        self._conn: Any = None

    # --- the database -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """URL of the scratch database (created on first use)."""
        return self._database().url

    @property
    def name(self) -> str:
        return self._database().name

    def _database(self) -> OwnedDatabase:
        if self._db is None:
            self._db = self._owner.create(kind=self._kind)
            from pytest_xaio.postgres.extensions import enable_bundled_extensions

            enable_bundled_extensions(self._owner, self._db.name)  # uuid-ossp / pgcrypto on embedded
            if self.source.schema_sql is not None:
                apply_sql_file(self._db.url, self.source.schema_sql)
        return self._db

    @property
    def connection(self) -> Any:
        """An autocommit psycopg connection to the scratch database, to insert and read rows."""
        if self._conn is None or self._conn.closed:
            import psycopg

            self._conn = psycopg.connect(self.url, autocommit=True)
        return self._conn

    def execute(self, query: str, params: Any = None) -> Any:
        """``connection.execute(query, params)``: returns the psycopg cursor."""
        return self.connection.execute(query, params)

    def reset(self) -> None:
        """Drop the scratch database; the next call starts again from an empty one."""
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._db is not None:
            db, self._db = self._db, None
            self._owner.drop(db)

    # --- versions ---------------------------------------------------------------------------------
    @property
    def versions(self) -> list[str]:
        """Every migration's version (SQL files) or revision (Alembic), oldest first."""
        if self.source.kind == "sql":
            return [m.version for m in self.source.sql]
        from pytest_xaio.migrations.source import alembic_revisions

        return [rev for rev, _down, _path in alembic_revisions(self.source)]

    @property
    def head(self) -> str:
        """The newest version (``"075"``) or Alembic head revision."""
        if self.source.kind == "sql":
            return self.source.sql[-1].version
        heads = alembic_heads(self.source)
        if len(heads) != 1:
            raise MigrationError(
                self.source.path or "alembic",
                None,
                f"Alembic has {len(heads)} heads ({', '.join(heads)}); merge them first",
            )
        return heads[0]

    @property
    def current(self) -> str | None:
        """The version the scratch database is at, or None when nothing is applied."""
        if self._db is None:
            return None
        if self.source.kind == "sql":
            applied = sql_applied(self.url)
            return applied[-1] if applied else None
        return alembic_current(self.url)

    def upgrade(self, to: str | None = None) -> Migrator:
        """Apply migrations up to and including ``to`` (default: head)."""
        if self.source.kind == "sql":
            sql_upgrade(self.source, self.url, to)
        else:
            alembic_upgrade(self.source, self.url, to or "heads")
        return self

    def downgrade(self, to: str = "base") -> Migrator:
        """Undo migrations newer than ``to`` (``"base"`` undoes all of them)."""
        if self.source.kind == "sql":
            sql_downgrade(self.source, self.url, to)
        else:
            alembic_downgrade(self.source, self.url, to)
        return self

    # --- inspection -------------------------------------------------------------------------------
    def tables(self, schema_name: str = "public") -> list[str]:
        """Table names (the migration history tables left out)."""
        return schema.tables(self.connection, schema_name)

    def table_exists(self, table: str) -> bool:
        return schema.table_exists(self.connection, table)

    def columns(self, table: str) -> list[schema.Column]:
        """``Column(name, type, nullable, default)`` in table order."""
        return schema.columns(self.connection, table)

    def column(self, table: str, name: str) -> schema.Column:
        for col in self.columns(table):
            if col.name == name:
                return col
        raise LookupError(f"{table} has no column {name!r}")

    def constraints(self, table: str) -> list[schema.Constraint]:
        return schema.constraints(self.connection, table)

    def indexes(self, table: str) -> list[schema.Index]:
        return schema.indexes(self.connection, table)

    def dump(self) -> list[str]:
        """The whole schema as sorted lines (what round-trip checks compare)."""
        return schema.schema_dump(self.connection)
