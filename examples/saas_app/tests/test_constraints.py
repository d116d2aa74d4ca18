"""The waitlist's status column: the database itself accepts exactly five values."""

import psycopg.errors
import sqlalchemy.exc
from hypothesis import settings
from hypothesis import strategies as st

from pytest_xaio.db import allowed_values, assert_accepts, assert_rejects
from pytest_xaio.strategies import nasty_text, xaio_given

STATUSES = {"pending", "approved", "rejected", "waitlist", "contacted"}

# PostgreSQL text cannot hold NUL at all; that is not what the CHECK is about.
other_statuses = st.one_of(st.text(max_size=30), nasty_text(max_size=200)).filter(
    lambda s: s not in STATUSES and "\x00" not in s
)


def test_status_accepts_exactly_the_five_values(xaio_db):
    assert set(allowed_values(xaio_db, "waitlist", "status")) == STATUSES
    for status in sorted(STATUSES):
        assert_accepts(xaio_db, "waitlist", "status", status)


def test_near_misses_are_rejected(xaio_db):
    for status in ["Pending", "PENDING", " pending", "pending ", "approve", ""]:
        assert_rejects(xaio_db, "waitlist", "status", status, error="check")
    assert_rejects(xaio_db, "waitlist", "status", None, error="not_null")


@settings(max_examples=60, deadline=None)
@xaio_given(status=other_statuses)
def test_any_other_string_is_rejected(xaio_db, status):
    exc = assert_rejects(xaio_db, "waitlist", "status", status, error="check")
    assert exc.diag.constraint_name == "waitlist_status_check"


def test_through_the_apps_sqlalchemy_session(xaio_database):
    with xaio_database.session() as session:
        exc = assert_rejects(session, "waitlist", "status", "maybe", error=sqlalchemy.exc.IntegrityError)
        assert isinstance(exc.orig, psycopg.errors.CheckViolation)
        assert_accepts(session, "waitlist", "status", "contacted")
