"""The worker database kept across runs in transaction isolation: reused only when verified clean.

Each test makes a small project with its own ``xaio_project`` name, runs pytest sessions on it
against the machine's PostgreSQL (the URL provider), and reads what the sessions saw: the worker
database's name and oid (a recreated database gets a new oid), the ids the sequences handed out,
and the rows. The plugin's databases of that project are dropped afterwards.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

MIGRATION = """
CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);
INSERT INTO items (name) VALUES ('seed');
"""
PROBE = """
import os

import pytest


@pytest.mark.parametrize("i", range({count}))
def test_probe(xaio_db, i):
    new_id = xaio_db.execute("INSERT INTO items (name) VALUES ('probe') RETURNING id").fetchone()[0]
    oid, name = xaio_db.execute(
        "SELECT oid, datname FROM pg_database WHERE datname = current_database()"
    ).fetchone()
    names = [r[0] for r in xaio_db.execute("SELECT name FROM items ORDER BY id").fetchall()]
    tables = [r[0] for r in xaio_db.execute(
        "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY 1"
    ).fetchall()]
    with open(os.environ["PROBE_OUT"], "a") as out:
        out.write(f"{{name}} {{oid}} {{new_id}} {{','.join(names)}} {{','.join(tables)}}\\n")
"""


class Project:
    def __init__(self, pytester: pytest.Pytester, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pytester = pytester
        self.url = url
        self.name = f"reuse{uuid.uuid4().hex[:8]}"
        self.out = pytester.path / "probe.txt"
        (pytester.path / "migrations").mkdir()
        (pytester.path / "migrations" / "V001__items.sql").write_text(MIGRATION)
        pytester.makeini(f"[pytest]\nxaio_migrations = migrations\nxaio_project = {self.name}\n")
        pytester.makepyfile(test_probe=PROBE.format(count=1))
        monkeypatch.setenv("PROBE_OUT", str(self.out))

    def args(self, *extra: str) -> list[str]:
        return ["-p", "no:cacheprovider", "--xaio-postgres-url", self.url, "--xaio-reuse-db", *extra]

    def run(self, *extra: str, passed: int = 1) -> tuple[list[str], str]:
        """One session; returns the probe's fields of its last test and the session's output."""
        result = self.pytester.runpytest(*self.args(*extra))
        result.assert_outcomes(passed=passed)
        return self.out.read_text().splitlines()[-1].split(" "), result.stdout.str()

    def databases(self) -> list[str]:
        with psycopg.connect(self.url) as conn:
            rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (f"xaio_{self.name}%",))
            return sorted(r[0] for r in rows.fetchall())

    def drop_all(self) -> None:
        """Every database of this test's project was made by its sessions (the name is unique)."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            for name in self.databases():
                conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(sql.Identifier(name)))
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def project(pytester: pytest.Pytester, service_postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    made = Project(pytester, service_postgres_url, monkeypatch)
    yield made
    made.drop_all()


def _commit(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


def test_clean_database_is_reused_with_sequences_put_back(project: Project) -> None:
    first, out1 = project.run()
    assert first[0].endswith("_keep0")
    assert f"xaio: worker database {first[0]} cloned, kept for the next run" in out1
    assert first[2] == "2"  # the seed row has id 1
    second, out2 = project.run()
    assert f"xaio: worker database {first[0]} reused, kept for the next run" in out2
    assert second[:2] == first[:2]  # same database: same name, same oid
    assert second[2] == "2"  # the rolled-back insert of run 1 advanced the sequence; it was put back
    assert second[3] == "seed,probe"


@pytest.mark.parametrize(
    "committed",
    [
        "INSERT INTO items (name) VALUES ('committed')",
        "UPDATE items SET name = 'changed' WHERE name = 'seed'",  # same row count, other content
        "CREATE TABLE leftover (id int)",  # schema only, no rows
    ],
    ids=["insert", "update", "ddl"],
)
def test_committed_write_means_a_fresh_clone(project: Project, committed: str) -> None:
    first, _ = project.run()
    project.pytester.makepyfile(
        test_commit=f"""
import psycopg


def test_commit(xaio_db_url):
    with psycopg.connect(xaio_db_url, autocommit=True) as conn:  # outside the test's transaction
        conn.execute({committed!r})
"""
    )
    _, during = project.run(passed=2)  # commits, then the probe sees the write
    # The run that committed says so in its summary, and does not claim to keep the database.
    if committed.startswith("CREATE"):
        assert f"xaio: the schema of the worker database {first[0]} (reused) was changed (DDL committed)" in during
    else:
        assert f"xaio: rows were committed to the worker database {first[0]} (reused), in public.items," in during
    assert "a test may have seen what an earlier one left" in during
    assert "xaio:   fix: let the app reach the database through xaio_db_dependency" in during
    assert "kept for the next run" not in during
    (project.pytester.path / "test_commit.py").unlink()
    after, out = project.run()
    assert f"xaio: worker database {first[0]} cloned, kept for the next run" in out
    assert "outside the tests' rolled-back transactions" not in out
    assert after[0] == first[0]
    assert after[1] != first[1]  # a new database, not the written one
    assert after[3] == "seed,probe"
    assert after[4] == "items,xaio_schema_history"


def test_a_mark_of_an_older_version_gets_the_tables_at_its_next_clean_end(project: Project) -> None:
    """A kept database whose mark predates the end-of-tests check (no "filled" tables) is still
    reused; its next clean end records them, and from then on a commit is reported."""
    import json

    from pytest_xaio.postgres.databases import MARK

    first, _ = project.run()
    with psycopg.connect(project.url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (first[0],)
        ).fetchone()
        assert row is not None
        comment = row[0]
        mark = json.loads(comment[len(MARK) :])
        del mark["filled"]
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(first[0]), sql.Literal(MARK + json.dumps(mark, sort_keys=True))
            )
        )
    again, out = project.run()
    assert again[:2] == first[:2]
    assert "reused, kept for the next run" in out
    project.pytester.makepyfile(
        test_commit="""
import psycopg


def test_commit(xaio_db_url):
    with psycopg.connect(xaio_db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO items (name) VALUES ('committed')")
"""
    )
    _, during = project.run(passed=2)
    assert f"xaio: rows were committed to the worker database {first[0]} (reused), in public.items," in during


LEAKY_APP = """
import os

import psycopg
from fastapi import FastAPI

app = FastAPI()


@app.post("/items")
def create_item() -> dict[str, bool]:
    # Its own connection from DATABASE_URL, committed: outside the test's transaction.
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        conn.execute("INSERT INTO items (name) VALUES ('from the app')")
    return {"ok": True}
"""


def test_an_app_committing_on_its_own_connection_is_named_under_xdist(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The summary of an -n 2 run names the worker whose app committed outside the test's
    transaction (its later tests could see the row) and the fix; the other worker keeps its database."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # this run's controller is not a worker of ours
    project.pytester.makepyfile(leaky_app=LEAKY_APP)
    project.pytester.makeini(
        f"[pytest]\nxaio_migrations = migrations\nxaio_project = {project.name}\nxaio_app = leaky_app:app\n"
        "xaio_public_routes = POST /items\npythonpath = .\n"
    )
    project.pytester.makepyfile(
        test_app="""
def test_post(xaio_anon_client):
    assert xaio_anon_client.post("/items").status_code == 200
"""
    )
    result = project.pytester.runpytest_subprocess(*project.args("-n", "2", "test_app.py", "test_probe.py"))
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    leaked = [line for line in out.splitlines() if line.startswith("xaio: rows were committed")]
    assert len(leaked) == 1, out
    assert "in public.items, outside the tests' rolled-back transactions" in leaked[0]
    assert leaked[0].endswith("[gw0]") or leaked[0].endswith("[gw1]")
    assert "xaio:   fix: let the app reach the database through xaio_db_dependency" in out
    assert len([line for line in out.splitlines() if "kept for the next run" in line]) == 1  # the other worker's
    leaky_db = leaked[0].split("worker database ")[1].split(" ")[0]
    assert leaky_db not in project.databases()  # dropped at the end


def test_killed_session_is_not_trusted(project: Project) -> None:
    first, _ = project.run()
    project.pytester.makepyfile(
        test_kill="import os\n\n\ndef test_kill(xaio_db):\n    os._exit(3)  # no teardown runs\n"
    )
    killed = project.pytester.runpytest_subprocess(*project.args("test_kill.py"))
    assert killed.ret == 3
    (project.pytester.path / "test_kill.py").unlink()
    after, out = project.run()
    assert f"xaio: worker database {first[0]} cloned, kept for the next run" in out
    assert after[1] != first[1]


def test_concurrent_session_takes_another_slot(project: Project) -> None:
    first, _ = project.run()
    hold, ready = project.pytester.path / "hold", project.pytester.path / "ready"
    project.pytester.makepyfile(
        test_hold=f"""
import os
import time


def test_hold(xaio_db):
    open({str(ready)!r}, "w").close()
    while os.path.exists({str(hold)!r}):
        time.sleep(0.05)
"""
    )
    hold.touch()
    holder = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", *project.args("test_hold.py")],
        cwd=project.pytester.path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert holder.poll() is None, "the holding session ended early"
            assert time.monotonic() < deadline, "the holding session did not start"
            time.sleep(0.05)
        during, out = project.run("test_probe.py")
        assert during[0] == first[0].replace("_keep0", "_keep1")  # keep0 is locked by the holder
        assert "cloned, kept for the next run" in out
    finally:
        hold.unlink()
        assert holder.wait(timeout=60) == 0
    again, out = project.run("test_probe.py")
    assert again[:2] == first[:2]  # the holder released keep0 clean: reused
    assert "reused, kept for the next run" in out


def test_new_migration_means_a_fresh_clone(project: Project) -> None:
    first, _ = project.run()
    (project.pytester.path / "migrations" / "V002__more.sql").write_text("CREATE TABLE more (id int);\n")
    after, out = project.run()
    assert "cloned, kept for the next run" in out
    assert after[1] != first[1]
    assert after[4] == "items,more,xaio_schema_history"


def test_database_without_the_mark_is_left_alone(project: Project) -> None:
    first, _ = project.run()
    with psycopg.connect(project.url, autocommit=True) as conn:  # as if it were the user's own database
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS NULL").format(sql.Identifier(first[0])))
    after, _ = project.run()
    assert after[0] == first[0].replace("_keep0", "_keep1")
    assert first[0] in project.databases()  # untouched


def test_truncate_and_opt_out_keep_nothing(project: Project) -> None:
    project.pytester.makeini(
        f"[pytest]\nxaio_migrations = migrations\nxaio_project = {project.name}\nxaio_isolation = truncate\n"
    )
    result = project.pytester.runpytest(*project.args())
    result.assert_outcomes(passed=1)
    assert "kept for the next run" not in result.stdout.str()
    project.pytester.makeini(
        f"[pytest]\nxaio_migrations = migrations\nxaio_project = {project.name}\nxaio_reuse_db = false\n"
    )
    result = project.pytester.runpytest("-p", "no:cacheprovider", "--xaio-postgres-url", project.url)
    result.assert_outcomes(passed=1)
    assert "kept for the next run" not in result.stdout.str()
    assert not [name for name in project.databases() if "_keep" in name]


@pytest.mark.slow
def test_xdist_workers_each_keep_their_own(project: Project) -> None:
    project.pytester.makepyfile(test_probe=PROBE.format(count=6))
    for _ in range(2):
        result = project.pytester.runpytest_subprocess(*project.args("-n", "2"))
        result.assert_outcomes(passed=6)
    runs = [line.split(" ") for line in project.out.read_text().splitlines()]
    first, second = runs[:6], runs[6:]
    assert {r[0] for r in first} == {r[0] for r in second}
    assert len({r[0] for r in first}) == 2  # gw0 and gw1, one kept database each
    assert {(r[0], r[1]) for r in first} == {(r[0], r[1]) for r in second}  # same oids: reused
