"""xaio_snapshot: rows added/removed/changed per table and Redis keys, with readable failures."""

from __future__ import annotations

import alembic.command  # noqa: F401
import pytest
import redis  # noqa: F401  (outer-process imports: see test_db_migrations.py)
import sqlalchemy  # noqa: F401
from fixtures_db import make_project

SEED = """
def seed(db, deployments=3):
    uid = db.execute("INSERT INTO users (email) VALUES ('o@example.com') RETURNING id").fetchone()[0]
    pid = db.execute("INSERT INTO projects (owner_id, name, slug) VALUES (%s, 'P', 'p') RETURNING id",
                     (uid,)).fetchone()[0]
    for i in range(deployments):
        db.execute("INSERT INTO deployments (project_id) VALUES (%s)", (pid,))
    db.execute("INSERT INTO project_env_vars (project_id, kind, name) VALUES (%s, 'prod', 'KEY')", (pid,))
    return uid, pid
"""

PASSING = (
    SEED
    + """
import redis


def test_delete_cascades(xaio_db, xaio_snapshot):
    uid, pid = seed(xaio_db)
    before = xaio_snapshot()
    xaio_db.execute("DELETE FROM projects WHERE id = %s", (pid,))
    diff = xaio_snapshot().diff(before)
    diff.assert_only_removed({"projects": 1, "deployments": 3, "project_env_vars": 1})
    diff.assert_removed({"deployments": 3})
    diff.assert_no_rows_left(where={"project_id": pid})
    assert list(diff["projects"].removed) == [(pid,)]
    assert diff["projects"].removed[(pid,)]["slug"] == "p"
    assert diff.changed_tables() == ["deployments", "project_env_vars", "projects"]


def test_changes_and_additions(xaio_db, xaio_snapshot):
    uid, pid = seed(xaio_db, deployments=0)
    before = xaio_snapshot()
    xaio_db.execute("UPDATE projects SET published = true WHERE id = %s", (pid,))
    xaio_db.execute("INSERT INTO deployments (project_id) VALUES (%s)", (pid,))
    diff = xaio_snapshot().diff(before)
    old, new = diff["projects"].changed[(pid,)]
    assert (old["published"], new["published"]) == (False, True)
    diff.assert_added({"deployments": 1})
    xaio_snapshot().diff(xaio_snapshot()).assert_unchanged()


def test_tables_without_a_primary_key(xaio_db, xaio_snapshot):
    xaio_db.execute("CREATE TABLE audit_log (msg text)")
    xaio_db.execute("INSERT INTO audit_log VALUES ('kept')")
    before = xaio_snapshot()
    xaio_db.execute("INSERT INTO audit_log VALUES ('same'), ('same')")
    xaio_db.execute("DELETE FROM audit_log WHERE msg = 'kept'")
    diff = xaio_snapshot().diff(before)
    assert sorted(r["msg"] for r in diff["audit_log"].added.values()) == ["same", "same"]
    assert [r["msg"] for r in diff["audit_log"].removed.values()] == ["kept"]
    diff.assert_added({"audit_log": 2})
    diff.assert_removed({"audit_log": 1})


def test_redis_keys(xaio_db, xaio_snapshot, xaio_redis_url):
    r = redis.Redis.from_url(xaio_redis_url)
    r.set("project:42:cache", "1")
    r.set("project:42:stats", "2")
    r.set("user:1", "1")
    before = xaio_snapshot()
    r.delete("project:42:cache", "project:42:stats")
    r.set("audit:1", "deleted 42")
    diff = xaio_snapshot().diff(before)
    assert diff.redis_removed == {"project:42:cache", "project:42:stats"}
    diff.assert_redis_removed("project:42:*")
    diff.assert_redis_added("audit:*")
    diff.assert_no_redis_keys("project:42:*")
    diff.assert_only_removed({})
"""
)

FAILING = (
    SEED
    + """
import redis


def test_wrong_counts(xaio_db, xaio_snapshot):
    uid, pid = seed(xaio_db)
    before = xaio_snapshot()
    xaio_db.execute("DELETE FROM projects WHERE id = %s", (pid,))
    xaio_db.execute("UPDATE users SET plan = 'pro'")
    xaio_snapshot().diff(before).assert_only_removed({"projects": 1, "deployments": 2})


def test_rows_left(xaio_db, xaio_snapshot):
    uid, pid = seed(xaio_db)
    before = xaio_snapshot()
    xaio_db.execute("DELETE FROM deployments WHERE project_id = %s", (pid,))
    xaio_snapshot().diff(before).assert_no_rows_left(where={"project_id": pid})


def test_redis_key_left(xaio_db, xaio_snapshot, xaio_redis_url):
    r = redis.Redis.from_url(xaio_redis_url)
    r.set("project:7:a", "1")
    r.set("project:7:b", "1")
    before = xaio_snapshot()
    r.delete("project:7:a")
    xaio_snapshot().diff(before).assert_redis_removed("project:7:*")


def test_no_redis_in_snapshot(xaio_db, xaio_snapshot):
    before = xaio_snapshot()
    xaio_snapshot().diff(before).assert_redis_removed("project:*")
"""
)


def test_snapshot_diffs(pytester: pytest.Pytester, xaio_redis_url: str) -> None:
    make_project(pytester, "sql")
    pytester.makepyfile(PASSING)
    pytester.runpytest().assert_outcomes(passed=4)


def test_snapshot_failure_messages(pytester: pytest.Pytester, xaio_redis_url: str) -> None:
    make_project(pytester, "sql")
    pytester.makepyfile(FAILING)
    result = pytester.runpytest()
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: the changes are not only the expected removals:",
            "E         deployments: expected removed 2, found added 0, removed 3, changed 0",
            "E         users: expected removed 0, found added 0, removed 0, changed 1",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: rows matching {'project_id': *} are still there (looked in deployments, "
            "project_env_vars):",
            "E         project_env_vars: 1 row(s) left, keys [[]*[]]",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: redis keys 'project:7:*': expected removed and none left; "
            "found removed ['project:7:a'], left ['project:7:b']",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: this snapshot has no Redis keys: the test does not use the xaio_redis_url "
            "fixture (add it to the test's arguments)",
        ]
    )


def test_snapshot_with_alembic_migrations(pytester: pytest.Pytester) -> None:
    make_project(pytester, "alembic")
    pytester.makepyfile(
        """
        def test_insert(xaio_db, xaio_snapshot):
            before = xaio_snapshot()
            xaio_db.execute("INSERT INTO waitlist (email) VALUES ('a@example.com')")
            diff = xaio_snapshot().diff(before)
            diff.assert_added({"waitlist": 1})
            assert [row["status"] for row in diff["waitlist"].added.values()] == ["pending"]
            assert "alembic_version" not in diff.tables
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
