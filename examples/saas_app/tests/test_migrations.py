"""V075 creates the waitlist; its undo file removes it again. Walked in a scratch database."""

from datetime import datetime

import psycopg
import pytest

WAITLIST_COLUMNS = {
    # name: (type, nullable)
    "id": ("bigint", False),
    "email": ("text", False),
    "name": ("text", True),
    "status": ("text", False),
    "user_id": ("bigint", True),
    "created_at": ("timestamp with time zone", False),
}


def test_v075_creates_the_waitlist_and_its_undo_drops_it(xaio_migrations):
    m = xaio_migrations
    m.upgrade(to="074")
    assert m.current == "074"
    assert not m.table_exists("waitlist")

    m.upgrade(to="075")
    assert m.current == "075" == m.head
    columns = {c.name: c for c in m.columns("waitlist")}
    assert {name: (c.type, c.nullable) for name, c in columns.items()} == WAITLIST_COLUMNS
    assert columns["status"].default == "'pending'::text"
    [check] = [c for c in m.constraints("waitlist") if c.type == "check"]
    assert check.name == "waitlist_status_check"
    assert check.columns == ("status",)
    assert any(i.unique and "lower(email)" in i.definition for i in m.indexes("waitlist"))

    # rows go in and come back with the right types
    m.execute("INSERT INTO waitlist (email, name) VALUES ('ada@example.com', 'Ada')")
    m.execute("INSERT INTO waitlist (email, status) VALUES ('bob@example.com', 'approved')")
    rows = m.execute("SELECT id, email, name, status, created_at FROM waitlist ORDER BY id").fetchall()
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("ada@example.com", "Ada", "pending"),
        ("bob@example.com", None, "approved"),
    ]
    assert all(isinstance(r[0], int) for r in rows)
    assert all(isinstance(r[4], datetime) and r[4].tzinfo is not None for r in rows)
    with pytest.raises(psycopg.errors.UniqueViolation):
        m.execute("INSERT INTO waitlist (email) VALUES ('ADA@example.com')")  # unique on lower(email)

    m.downgrade(to="074")
    assert m.current == "074"
    assert not m.table_exists("waitlist")
    assert m.table_exists("users")
    assert m.table_exists("projects")


def test_every_migration_can_be_undone(xaio_migrations):
    missing = [m.path.name for m in xaio_migrations.source.sql if m.undo is None]
    assert missing == []
    assert xaio_migrations.versions[-1] == "075"
