"""assert_rejects / assert_accepts / allowed_values against the real database, psycopg and SQLAlchemy."""

from __future__ import annotations

import alembic.command  # noqa: F401
import pytest
import sqlalchemy  # noqa: F401  (outer-process import: see test_db_migrations.py)
from fixtures_db import make_project

PASSING = """
import psycopg.errors
import sqlalchemy.exc
from sqlalchemy import text

from pytest_xaio.db import allowed_values, assert_accepts, assert_rejects


def test_check_list_and_enum(xaio_db):
    assert allowed_values(xaio_db, "waitlist", "status") == ["pending", "approved", "rejected"]
    assert allowed_values(xaio_db, "project_env_vars", "kind") == ["dev", "staging", "prod"]
    for status in allowed_values(xaio_db, "waitlist", "status"):
        assert_accepts(xaio_db, "waitlist", "status", status)
    exc = assert_rejects(xaio_db, "waitlist", "status", "bogus", error="check")
    assert isinstance(exc, psycopg.errors.CheckViolation)
    assert_rejects(xaio_db, "waitlist", "status", "PENDING", error=psycopg.errors.CheckViolation)
    assert_rejects(xaio_db, "project_env_vars", "kind", "qa")  # invalid enum input: a data error


def test_not_null_unique_length_and_the_test_transaction_survives(xaio_db):
    xaio_db.execute("INSERT INTO waitlist (email) VALUES ('taken@example.com')")
    assert_rejects(xaio_db, "waitlist", "email", None, error="not_null")
    assert_rejects(xaio_db, "waitlist", "email", "taken@example.com", error="unique")
    assert_accepts(xaio_db, "waitlist", "email", "free@example.com")
    exc = assert_rejects(xaio_db, "waitlist", "note", "x" * 201)
    assert isinstance(exc, psycopg.errors.StringDataRightTruncation)
    # the rejected and the accepted rows are gone; the test's own row is still there
    assert xaio_db.execute("SELECT email FROM waitlist").fetchall() == [("taken@example.com",)]


def test_foreign_keys_are_filled_from_parents(xaio_db):
    assert xaio_db.execute("SELECT count(*) FROM users").fetchone() == (0,)
    assert_accepts(xaio_db, "deployments", "state", "running")  # makes a user and a project in the savepoint
    assert_rejects(xaio_db, "projects", "owner_id", 424242, error="foreign_key")
    assert xaio_db.execute("SELECT count(*) FROM users").fetchone() == (0,)
    xaio_db.execute("INSERT INTO users (email) VALUES ('owner@example.com')")
    assert_accepts(xaio_db, "projects", "slug", "my-project", base_row={"name": "Mine"})


def test_other_column_types_are_filled(xaio_db):
    xaio_db.execute(
        "CREATE TABLE odd (id serial PRIMARY KEY, ip inet NOT NULL, wait interval NOT NULL, at time NOT NULL, "
        "price numeric(4,2) NOT NULL, code varchar(3) NOT NULL, blob bytea NOT NULL, tags text[] NOT NULL, "
        "meta jsonb NOT NULL, uid uuid NOT NULL, day date NOT NULL, ok boolean NOT NULL, label text NOT NULL "
        "CHECK (label <> ''))")
    assert_accepts(xaio_db, "odd", "label", "x")
    assert_rejects(xaio_db, "odd", "label", "", error="check")


def test_through_a_sqlalchemy_session(xaio_database):
    with xaio_database.session() as session:
        exc = assert_rejects(session, "waitlist", "status", "nope", error=sqlalchemy.exc.IntegrityError)
        assert isinstance(exc.orig, psycopg.errors.CheckViolation)
        assert_rejects(session, "waitlist", "status", "nope", error="check")
        assert_accepts(session, "waitlist", "status", "approved")
        assert allowed_values(session, "waitlist", "status") == ["pending", "approved", "rejected"]
        assert session.execute(text("SELECT count(*) FROM waitlist")).scalar() == 0
"""

FAILING = """
from pytest_xaio.db import allowed_values, assert_accepts, assert_rejects


def test_rejects_but_accepted(xaio_db):
    assert_rejects(xaio_db, "waitlist", "status", "approved")

def test_rejects_with_another_error(xaio_db):
    assert_rejects(xaio_db, "waitlist", "status", "bogus", error="unique")

def test_accepts_but_rejected(xaio_db):
    assert_accepts(xaio_db, "waitlist", "status", "bogus")

def test_no_allowed_values(xaio_db):
    allowed_values(xaio_db, "waitlist", "email")
"""


def test_constraint_helpers_with_sql_migrations(pytester: pytest.Pytester) -> None:
    make_project(pytester, "sql")
    pytester.makepyfile(PASSING)
    pytester.runpytest().assert_outcomes(passed=5)


def test_failure_messages(pytester: pytest.Pytester) -> None:
    make_project(pytester, "sql")
    pytester.makepyfile(FAILING)
    result = pytester.runpytest()
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: waitlist.status accepted 'approved': the row was inserted (then rolled back); "
            "no CHECK, NOT NULL, UNIQUE or FOREIGN KEY constraint refused it.",
            "E         row: {'status': 'approved', 'email': 'xaio*@example.com'}",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: waitlist.status = 'bogus' was rejected, but with CheckViolation: new row for relation "
            '"waitlist" violates check constraint "waitlist_status_check"; expected UniqueViolation.',
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: waitlist.status = 'bogus' was rejected by the database: CheckViolation: new row for "
            'relation "waitlist" violates check constraint "waitlist_status_check"',
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "E       LookupError: waitlist.email has no CHECK (email IN (...)) and no enum type, so its allowed values are "
            "not in the catalog; CHECK constraints on waitlist: CHECK ((status = ANY (ARRAY['pending'::text, "
            "'approved'::text, 'rejected'::text])))",
        ]
    )


def test_allowed_values_with_alembic_migrations(pytester: pytest.Pytester) -> None:
    make_project(pytester, "alembic")
    pytester.makepyfile(
        """
        from pytest_xaio.db import allowed_values, assert_rejects

        def test_status(xaio_db):
            assert allowed_values(xaio_db, "waitlist", "status") == ["pending", "approved", "rejected"]
            assert_rejects(xaio_db, "waitlist", "status", "maybe", error="check")
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
