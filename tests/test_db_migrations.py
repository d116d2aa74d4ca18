"""xaio_migrations: walk SQL-file and Alembic migrations up and down in a scratch database."""

from __future__ import annotations

import alembic.command  # noqa: F401
import pytest
import sqlalchemy  # noqa: F401
from fixtures_db import make_project

# alembic and sqlalchemy are imported here, in the outer process, on purpose: in-process pytester
# runs drop the modules they imported, and a second import of sqlalchemy mixes class identities.

SQL_WALK = """
import psycopg

SEEN = {}

def test_walk(xaio_migrations, xaio_postgres):
    m = xaio_migrations
    assert m.head == "003"
    assert m.versions == ["001", "002", "003"]
    assert m.current is None
    m.upgrade(to="002")
    assert m.current == "002"
    assert m.tables() == ["deployments", "project_env_vars", "projects", "users"]
    assert not m.table_exists("waitlist")
    m.upgrade(to="003")
    assert m.current == "003"
    cols = {c.name: c for c in m.columns("waitlist")}
    assert list(cols) == ["id", "email", "status", "note", "created_at"]
    assert cols["email"].type == "text" and not cols["email"].nullable
    assert cols["note"].type == "character varying(200)" and cols["note"].nullable
    assert cols["status"].default == "'pending'::text"
    assert cols["created_at"].type == "timestamp with time zone"
    cons = {c.name: c for c in m.constraints("waitlist")}
    assert cons["waitlist_status_check"].type == "check"
    assert cons["waitlist_status_check"].columns == ("status",)
    assert "'approved'::text" in cons["waitlist_status_check"].definition
    assert cons["waitlist_email_key"].type == "unique"
    assert cons["waitlist_pkey"].type == "primary key"
    fks = [c for c in m.constraints("projects") if c.type == "foreign key"]
    assert fks[0].columns == ("owner_id",) and "REFERENCES users(id)" in fks[0].definition
    idx = {i.name: i for i in m.indexes("waitlist")}
    assert idx["waitlist_status_idx"].columns == ("status",) and not idx["waitlist_status_idx"].unique
    assert idx["waitlist_pkey"].primary

    m.execute("INSERT INTO waitlist (email, note) VALUES (%s, %s)", ("a@example.com", "hi"))
    row = m.execute("SELECT email, status, note, created_at FROM waitlist").fetchone()
    assert row[:3] == ("a@example.com", "pending", "hi")
    assert row[3].tzinfo is not None

    m.downgrade(to="002")
    assert m.current == "002"
    assert not m.table_exists("waitlist")
    assert m.table_exists("projects")
    m.downgrade(to="base")
    assert m.current is None and m.tables() == []

    # a scratch database of its own, marked as the plugin's: never the template
    assert m.name.startswith("xaio_") and "_tpl_" not in m.name
    SEEN["name"] = m.name
    with psycopg.connect(xaio_postgres.url, autocommit=True) as conn:
        comment = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (m.name,)
        ).fetchone()[0]
    assert comment.startswith("pytest-xaio:")

def test_scratch_database_was_dropped(xaio_postgres):
    with psycopg.connect(xaio_postgres.url, autocommit=True) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (SEEN["name"],)).fetchone() is None
"""


def test_sql_migrations_up_down_and_inspection(pytester: pytest.Pytester) -> None:
    make_project(pytester, "sql")
    pytester.makepyfile(SQL_WALK)
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_downgrade_without_undo_file_names_the_migration(pytester: pytest.Pytester) -> None:
    folder = make_project(pytester, "sql")
    (folder / "U003__create_waitlist.sql").unlink()
    pytester.makepyfile(
        """
        def test_down(xaio_migrations):
            xaio_migrations.upgrade()
            xaio_migrations.downgrade(to="002")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*MigrationError: *V003__create_waitlist.sql: V003 has no undo file "
            "(expected U003__create_waitlist.sql next to it), so it cannot be rolled back",
        ]
    )


def test_unknown_version_and_failing_migration_messages(pytester: pytest.Pytester) -> None:
    folder = make_project(pytester, "sql")
    (folder / "V004__broken.sql").write_text("SELECT 1;\n\nALTER TABLE waitlist\n  ADD COLUMN source tex;\n")
    pytester.makepyfile(
        """
        def test_unknown(xaio_migrations):
            xaio_migrations.upgrade(to="009")

        def test_broken(xaio_migrations):
            xaio_migrations.upgrade(to="004")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*MigrationError: *migrations: no migration has version '009' (the last ones are 001, 002, 003, 004)",
            '*MigrationError: *V004__broken.sql:3: type "tex" does not exist (SQLSTATE 42704)',
        ]
    )


ALEMBIC_WALK = """
def test_walk(xaio_migrations):
    m = xaio_migrations
    assert m.head == "a002"
    assert m.versions == ["a001", "a002"]
    assert m.current is None
    m.upgrade(to="a001")
    assert m.current == "a001"
    assert m.tables() == ["users"]
    m.upgrade()
    assert m.current == "a002"
    cols = {c.name: c for c in m.columns("waitlist")}
    assert cols["status"].type == "text" and cols["status"].default == "'pending'::text"
    assert [c.type for c in m.constraints("waitlist")] == ["primary key", "check"]
    m.execute("INSERT INTO waitlist (email) VALUES ('a@example.com')")
    assert m.execute("SELECT status FROM waitlist").fetchone() == ("pending",)
    m.downgrade(to="a001")
    assert not m.table_exists("waitlist") and m.current == "a001"
"""


def test_alembic_migrations_up_down_and_inspection(pytester: pytest.Pytester) -> None:
    make_project(pytester, "alembic")
    pytester.makepyfile(ALEMBIC_WALK)
    pytester.runpytest().assert_outcomes(passed=1)


def test_no_migrations_configured_ends_the_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(xaio_migrations): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["*xaio_migrations is not set, so there are no migrations to walk*"])
