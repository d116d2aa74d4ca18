"""Session start on a cached template: one admin connection, and no queue behind the build lock; and
what a template build cleans up (templates of folders that are gone).

Each test makes a small project with its own ``xaio_project`` name and runs pytest sessions on it
against the machine's PostgreSQL (the URL provider). The plugin's databases of that project are
dropped afterwards.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

MIGRATION = "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);\n"
# Records the database of every connection psycopg opens in the session, up to the first test's body.
# Drops go through pytest-postgresql's janitor, with connections of its own: on this shared server
# a session may find (and drop) what another test's killed session left, so those are not counted.
COUNTING_CONFTEST = """
import json
import os
import traceback

import psycopg

CONNECTS = []
_connect = psycopg.Connection.connect.__func__


def _counting(cls, *args, **kwargs):
    conn = _connect(cls, *args, **kwargs)
    if not any("pytest_postgresql" in frame.filename for frame in traceback.extract_stack()):
        CONNECTS.append(conn.info.dbname)
    return conn


psycopg.Connection.connect = classmethod(_counting)
psycopg.connect = psycopg.Connection.connect


def pytest_runtest_call(item):
    with open(os.environ["CONNECTS_OUT"], "w") as out:
        json.dump(CONNECTS, out)
"""
TEST = "def test_one(xaio_db):\n    assert xaio_db.execute('SELECT count(*) FROM items').fetchone() == (0,)\n"


@pytest.fixture
def project(pytester: pytest.Pytester, service_postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A project whose migrations make one table; its name (its databases start with xaio_<name>)."""
    name = f"start{uuid.uuid4().hex[:8]}"
    (pytester.path / "migrations").mkdir()
    (pytester.path / "migrations" / "V001__items.sql").write_text(MIGRATION)
    pytester.makeini(f"[pytest]\nxaio_migrations = migrations\nxaio_project = {name}\n")
    pytester.makepyfile(test_one=TEST)
    monkeypatch.setenv("XAIO_REUSE_DB", "true")
    yield name
    with psycopg.connect(service_postgres_url, autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (f"xaio_{name}%",)).fetchall()
        for (db,) in rows:
            conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(sql.Identifier(db)))
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))


def _args(url: str) -> list[str]:
    return ["-p", "no:cacheprovider", "--xaio-postgres-url", url]


def test_cached_start_opens_one_admin_connection_and_the_tests(
    pytester: pytest.Pytester, project: str, service_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = pytester.path / "connects.json"
    monkeypatch.setenv("CONNECTS_OUT", str(out))
    pytester.makeconftest(COUNTING_CONFTEST)
    pytester.runpytest_subprocess(*_args(service_postgres_url)).assert_outcomes(passed=1)  # builds, clones
    result = pytester.runpytest_subprocess(*_args(service_postgres_url))
    result.assert_outcomes(passed=1)
    kept = re.search(r"worker database (\S+) reused", result.stdout.str())
    assert kept, result.stdout.str()
    assert kept.group(1).startswith(f"xaio_{project}_")
    assert kept.group(1).endswith("_keep0")
    result.stdout.fnmatch_lines(["*template cached*"])
    # The URL provider's check connection is kept as the session's admin connection (marks, locks,
    # catalog reads); the other one is the test's connection to its worker database.
    assert json.loads(out.read_text()) == ["postgres", kept.group(1)]


def test_cached_template_is_used_while_its_build_lock_is_held(
    pytester: pytest.Pytester, project: str, service_postgres_url: str
) -> None:
    from pytest_xaio.config import XaioSettings
    from pytest_xaio.migrations.source import discover
    from pytest_xaio.postgres.template import _build_key

    pytester.runpytest_subprocess(*_args(service_postgres_url)).assert_outcomes(passed=1)  # the template, built
    settings = XaioSettings.from_values({"migrations": "migrations"}, rootdir=str(pytester.path))
    key = _build_key(discover(settings).digest())
    with psycopg.connect(service_postgres_url, autocommit=True) as holder:
        # As if another worker or run were building a template of the same hash right now.
        holder.execute("SELECT pg_advisory_lock(%s)", (key,))
        # A session that waited for the lock would wait for this one to end: the timeout ends it.
        result = pytester.runpytest_subprocess(*_args(service_postgres_url), timeout=120)
        holder.execute("SELECT pg_advisory_unlock(%s)", (key,))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*template cached*"])


def _templates(url: str, project: str) -> dict[str, str]:
    """This project's templates on the server: name -> the folder their mark says they were built in."""
    from pytest_xaio.postgres.databases import MARK

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database WHERE datname LIKE %s",
            (f"xaio_{project}%_tpl_%",),
        ).fetchall()
    return {name: json.loads(comment.removeprefix(MARK)).get("where") for name, comment in rows}


def test_a_template_build_drops_the_templates_of_folders_that_are_gone(
    pytester: pytest.Pytester, project: str, service_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each folder of a project has templates of its own (two checkouts may hold other migrations).
    Once a folder is deleted (a worktree, a temporary checkout), the next template build on this
    machine drops its templates; a cached start drops nothing, and the templates of folders that
    still exist stay."""
    import shutil
    import subprocess
    import sys

    folders = {name: pytester.path / name for name in ("kept", "deleted", "builds")}
    for folder in folders.values():
        shutil.copytree(pytester.path / "migrations", folder / "migrations")
        shutil.copy(pytester.path / "tox.ini", folder)  # what pytester.makeini wrote
        shutil.copy(pytester.path / "test_one.py", folder)

    def run(folder: Path) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", *_args(service_postgres_url)],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    for folder in folders.values():
        run(folder)
    built = _templates(service_postgres_url, project)
    assert sorted(built.values()) == sorted(str(f.resolve()) for f in folders.values())

    shutil.rmtree(folders["deleted"])
    # A cached start looks for nothing. Run in-process to see that directly: on this shared server,
    # any other session's template build (another xdist worker's test) may drop the deleted folder's
    # template meanwhile, so the catalog cannot tell who dropped it.
    from pytest_xaio.postgres import template

    sweeps: list[str] = []
    with monkeypatch.context() as patch:
        patch.setattr(template, "_drop_unneeded", lambda owner, keep: sweeps.append(keep))
        patch.chdir(folders["kept"])
        result = pytester.runpytest_inprocess(*_args(service_postgres_url))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*template cached*"])
    assert sweeps == []

    (folders["builds"] / "migrations" / "V002__tags.sql").write_text("CREATE TABLE tags (name text PRIMARY KEY);\n")
    run(folders["builds"])  # a new template: the deleted folder's goes, and this folder's outdated one
    left = _templates(service_postgres_url, project)
    assert sorted(left.values()) == sorted(str(folders[name].resolve()) for name in ("kept", "builds"))
    assert next(name for name, where in built.items() if where == str(folders["kept"].resolve())) in left


def test_a_zombie_process_counts_as_dead() -> None:
    """A killed run's orphaned xdist workers stay zombies until PID 1 reaps them (a container's PID 1
    may never): their scratch databases must still count as abandoned."""
    import os
    import time

    from pytest_xaio.postgres.cluster import process_alive

    pid = os.fork()
    if pid == 0:  # the child ends at once and stays a zombie until waited for
        os._exit(0)
    try:
        for _ in range(200):  # until the child has exited (it is a zombie from then on)
            if not process_alive(pid):
                break
            time.sleep(0.01)
        assert not process_alive(pid)
        assert os.path.exists(f"/proc/{pid}")  # not reaped: still in the process table
    finally:
        os.waitpid(pid, 0)
    assert process_alive(os.getpid())
