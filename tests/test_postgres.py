"""PostgreSQL as users get it: the embedded default and the URL provider, each isolation mode, xdist."""

from __future__ import annotations

import psycopg
import pytest

MIGRATION = """
CREATE TABLE projects (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE plans (code text PRIMARY KEY);
INSERT INTO plans VALUES ('free'), ('pro');
"""

# Rows written by one test must be invisible to the next, whatever order they run in.
LEAK_TESTS = """
import pytest

@pytest.mark.parametrize("n", range(6))
def test_write_then_count(xaio_db, n):
    assert xaio_db.execute("SELECT count(*) FROM projects").fetchone()[0] == 0
    xaio_db.execute("INSERT INTO projects (name) VALUES (%s)", (f"p{n}",))
    assert xaio_db.execute("SELECT count(*) FROM projects").fetchone()[0] == 1
    assert xaio_db.execute("SELECT count(*) FROM plans").fetchone()[0] == 2
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.mkdir("migrations")
    (pytester.path / "migrations" / "V001__init.sql").write_text(MIGRATION)
    pytester.makeini("[pytest]\nxaio_migrations = migrations\n")
    return pytester


def test_xaio_db_works_with_no_postgres_configured(project: pytest.Pytester) -> None:
    project.makepyfile("def test_a(xaio_db): assert xaio_db.execute('SELECT 1').fetchone() == (1,)")
    result = project.runpytest("-p", "xaio")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["xaio: postgres 1* embedded 127.0.0.1:*, template * (hash *)"])


def test_url_provider(project: pytest.Pytester, service_postgres_url: str) -> None:
    project.makepyfile("""
        def test_a(xaio_db, xaio_postgres):
            assert xaio_postgres.provider == "url"
            assert xaio_db.execute('SELECT count(*) FROM plans').fetchone() == (2,)
    """)
    result = project.runpytest("--xaio-postgres-url", service_postgres_url)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["xaio: postgres * url 127.0.0.1:5432, template *"])


def test_url_provider_from_env(
    project: pytest.Pytester, service_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XAIO_POSTGRES_URL", service_postgres_url)
    project.makepyfile("def test_a(xaio_postgres): assert xaio_postgres.provider == 'url'")
    project.runpytest().assert_outcomes(passed=1)


@pytest.mark.parametrize("isolation", ["transaction", "truncate", "clone"])
@pytest.mark.parametrize("provider", ["embedded", "url"])
def test_rows_do_not_leak_between_tests(
    project: pytest.Pytester, service_postgres_url: str, isolation: str, provider: str
) -> None:
    project.makepyfile(LEAK_TESTS)
    args = ["--xaio-isolation", isolation, "-p", "no:randomly"]
    if provider == "url":
        args += ["--xaio-postgres-url", service_postgres_url]
    project.runpytest(*args).assert_outcomes(passed=6)


@pytest.mark.parametrize("isolation", ["transaction", "truncate", "clone"])
def test_rows_do_not_leak_under_xdist(project: pytest.Pytester, isolation: str) -> None:
    project.makepyfile(LEAK_TESTS)
    result = project.runpytest("-n", "2", "--xaio-isolation", isolation)
    result.assert_outcomes(passed=6)


def test_each_xdist_worker_gets_its_own_database(project: pytest.Pytester) -> None:
    project.makepyfile("""
        import pytest
        @pytest.mark.parametrize("n", range(4))
        def test_name(xaio_database, n):
            import os
            print("DB", os.environ.get("PYTEST_XDIST_WORKER"), xaio_database.name)
            assert os.environ["PYTEST_XDIST_WORKER"][:2] == "gw"
            assert "_" + os.environ["PYTEST_XDIST_WORKER"] + "_" in xaio_database.name
    """)
    project.runpytest("-n", "2").assert_outcomes(passed=4)


def test_marker_picks_isolation_per_test(project: pytest.Pytester) -> None:
    project.makepyfile("""
        import pytest

        @pytest.mark.xaio_db(isolation="clone")
        def test_clone(xaio_database, xaio_db):
            assert xaio_database.isolation == "clone"
            assert "_clone_" in xaio_database.name
            xaio_db.execute("INSERT INTO projects (name) VALUES ('committed')")

        def test_default(xaio_database, xaio_db):
            assert xaio_database.isolation == "transaction"
            assert xaio_db.execute("SELECT count(*) FROM projects").fetchone() == (0,)
    """)
    project.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_bad_marker_kwarg_fails_at_collection(project: pytest.Pytester) -> None:
    project.makepyfile("""
        import pytest
        @pytest.mark.xaio_db(isolaton="clone")
        def test_x(): pass
    """)
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*bad @pytest.mark.xaio_db on *test_x*isolaton*Signature: xaio_db(*, isolation*"])


def test_commit_inside_transaction_isolation_is_refused(project: pytest.Pytester) -> None:
    project.makepyfile("""
        import pytest
        from pytest_xaio.postgres.isolation import IsolationError

        def test_commit(xaio_db):
            xaio_db.execute("INSERT INTO projects (name) VALUES ('x')")
            with pytest.raises(IsolationError, match="isolation='truncate'"):
                xaio_db.commit()

        def test_rollback_returns_to_test_start(xaio_db):
            xaio_db.execute("INSERT INTO projects (name) VALUES ('x')")
            xaio_db.rollback()
            assert xaio_db.execute("SELECT count(*) FROM projects").fetchone() == (0,)
            with xaio_db.transaction():  # a nested block is a savepoint, not a real commit
                xaio_db.execute("INSERT INTO projects (name) VALUES ('y')")
    """)
    project.runpytest().assert_outcomes(passed=2)


def test_a_test_ending_its_transaction_or_connection_leaves_the_next_one_clean(project: pytest.Pytester) -> None:
    """A test's closing rollback is sent without waiting for the answer, which the next test reads
    first. When the server ended the connection meanwhile (an admin's pg_terminate_backend, waited
    for) or the test ended the transaction itself, the next test still starts clean and passes."""
    project.makepyfile("""
        import time

        import psycopg

        def test_a_connection_ended_after_writing(xaio_db, xaio_database):
            xaio_db.execute("INSERT INTO projects (name) VALUES ('before-kill')")
            pid = xaio_db.execute("SELECT pg_backend_pid()").fetchone()[0]
            with psycopg.connect(xaio_database.url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0]:
                    time.sleep(0.01)

        def test_b_reconnected(xaio_db):
            assert xaio_db.execute("SELECT count(*) FROM projects").fetchone() == (0,)
            xaio_db.execute("INSERT INTO projects (name) VALUES ('b')")
            xaio_db.execute("ROLLBACK")  # the test ends its own transaction, past the savepoint
            xaio_db.execute("INSERT INTO projects (name) VALUES ('c')")  # then writes outside it

        def test_c_clean(xaio_db):
            assert xaio_db.execute("SELECT count(*) FROM projects").fetchone() == (0,)
            assert xaio_db.execute("SELECT count(*) FROM plans").fetchone() == (2,)
    """)
    project.runpytest("-p", "no:randomly").assert_outcomes(passed=3)


def test_sqlalchemy_session_joins_the_test_transaction(project: pytest.Pytester) -> None:
    project.makepyfile("""
        from sqlalchemy import text

        def test_session_sees_and_commits(xaio_database, xaio_db):
            xaio_db.execute("INSERT INTO projects (name) VALUES ('raw')")
            session = xaio_database.session()
            assert session.execute(text("SELECT count(*) FROM projects")).scalar() == 1
            session.execute(text("INSERT INTO projects (name) VALUES ('orm')"))
            session.commit()   # the app's commit: releases a savepoint only
            session.close()
            assert xaio_db.execute("SELECT count(*) FROM projects").fetchone() == (2,)

        def test_nothing_left(xaio_db):
            assert xaio_db.execute("SELECT count(*) FROM projects").fetchone() == (0,)
    """)
    project.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_second_run_reuses_the_template(project: pytest.Pytester) -> None:
    # A migration unique to this test, so the first run must build its template.
    (project.path / "migrations" / "V002__marker.sql").write_text(f"-- {project.path}\nSELECT 1;\n")
    project.makepyfile("def test_a(xaio_db): pass")
    first = project.runpytest()
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines(["xaio: postgres * embedded *, template built (hash *)"])
    second = project.runpytest()
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines(["xaio: postgres * embedded *, template cached (hash *)"])
    # Changing a migration changes the hash: the template is built again.
    (project.path / "migrations" / "V003__more.sql").write_text("ALTER TABLE projects ADD COLUMN slug text;\n")
    third = project.runpytest()
    third.stdout.fnmatch_lines(["xaio: postgres * embedded *, template built (hash *)"])


def test_env_is_exported_for_the_app(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nxaio_migrations = migrations\nxaio_env =\n    APP_DB={url}\n    APP_PORT={port}\n")
    project.makepyfile("""
        import os
        def test_env(xaio_database, xaio_postgres):
            assert os.environ["DATABASE_URL"] == xaio_database.url
            assert os.environ["APP_DB"] == xaio_database.url
            assert os.environ["APP_PORT"] == str(xaio_postgres.port)
            assert os.environ["PGHOST"] == "127.0.0.1"
    """)
    project.runpytest().assert_outcomes(passed=1)


def test_never_drops_a_database_it_did_not_create(project: pytest.Pytester, service_postgres_url: str) -> None:
    # A user's database whose name is exactly what the plugin would pick for its template.
    from pytest_xaio.config import XaioSettings
    from pytest_xaio.migrations.source import discover
    from pytest_xaio.postgres import PostgresServer
    from pytest_xaio.postgres.databases import DatabaseOwner
    from pytest_xaio.postgres.template import template_name

    settings = XaioSettings.from_values({"migrations": "migrations"}, rootdir=str(project.path))
    server = PostgresServer("127.0.0.1", 5432, "postgres", None, "?", "url")
    owner = DatabaseOwner(server, project.path.name, "main", location=str(project.path))
    name = template_name(owner, discover(settings).digest())
    with psycopg.connect(service_postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(service_postgres_url.rsplit("/", 1)[0] + "/" + name, autocommit=True) as conn:
            conn.execute("CREATE TABLE precious (v text)")
            conn.execute("INSERT INTO precious VALUES ('keep me')")
        project.makepyfile("def test_a(xaio_db): pass")
        result = project.runpytest("--xaio-postgres-url", service_postgres_url)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stdout.fnmatch_lines([f"*a database named '{name}' already exists * was not created by pytest-xaio*"])
        with psycopg.connect(service_postgres_url.rsplit("/", 1)[0] + "/" + name) as conn:
            assert conn.execute("SELECT v FROM precious").fetchall() == [("keep me",)]
    finally:
        with psycopg.connect(service_postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def test_leaves_other_databases_alone_and_cleans_up_its_own(
    project: pytest.Pytester, service_postgres_url: str
) -> None:
    with psycopg.connect(service_postgres_url, autocommit=True) as conn:
        before = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
    project.makepyfile(LEAK_TESTS)
    project.runpytest("--xaio-postgres-url", service_postgres_url, "--xaio-isolation", "clone").assert_outcomes(
        passed=6
    )
    with psycopg.connect(service_postgres_url, autocommit=True) as conn:
        after = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
    # Nothing of the user's was dropped (other sessions' xaio_ databases on this shared server come and go).
    assert {n for n in before if not n.startswith("xaio_")} <= after
    from pytest_xaio.postgres import PostgresServer
    from pytest_xaio.postgres.databases import DatabaseOwner

    server = PostgresServer("127.0.0.1", 5432, "postgres", None, "?", "url")
    prefix = DatabaseOwner(server, project.path.name, "main", location=str(project.path)).prefix
    # Only this project's cached template may remain; its worker and clone databases are gone
    # (other sessions on this shared server create and drop their own meanwhile).
    new = {name for name in after - before if name.startswith(prefix)}
    assert new, "this project's template should be cached"
    assert all("_tpl_" in name for name in new), new


def test_database_fixture_factory_gives_a_second_schema(project: pytest.Pytester) -> None:
    (project.path / "analytics.sql").write_text("CREATE TABLE events (id serial PRIMARY KEY, kind text);\n")
    project.makeconftest("""
        from pytest_xaio.postgres.factories import database_fixture

        analytics_db = database_fixture(schema_sql="analytics.sql", isolation="clone")
    """)
    project.makepyfile("""
        import pytest

        @pytest.mark.parametrize("n", range(2))
        def test_both(analytics_db, xaio_db, n):
            assert analytics_db.isolation == "clone"
            analytics_db.connection.execute("INSERT INTO events (kind) VALUES ('signup')")
            assert analytics_db.connection.execute("SELECT count(*) FROM events").fetchone() == (1,)
            assert xaio_db.execute("SELECT to_regclass('events')").fetchone() == (None,)
            assert analytics_db.connection.execute("SELECT to_regclass('projects')").fetchone() == (None,)
    """)
    project.runpytest().assert_outcomes(passed=2)


def test_truncate_keeps_seed_and_keep_list_tables(project: pytest.Pytester) -> None:
    (project.path / "migrations" / "V002__roles.sql").write_text("CREATE TABLE roles (name text PRIMARY KEY);\n")
    project.makeini("[pytest]\nxaio_migrations = migrations\nxaio_isolation = truncate\nxaio_keep_tables = roles\n")
    project.makepyfile("""
        import pytest

        def test_1_write(xaio_db):
            xaio_db.execute("INSERT INTO roles VALUES ('admin')")
            xaio_db.execute("INSERT INTO projects (name) VALUES ('p')")

        def test_2_after(xaio_db):
            assert xaio_db.execute("SELECT count(*) FROM plans").fetchone() == (2,)    # seeded by a migration
            assert xaio_db.execute("SELECT count(*) FROM roles").fetchone() == (1,)    # on the keep-list
            assert xaio_db.execute("SELECT count(*) FROM projects").fetchone() == (0,)  # truncated
            # RESTART IDENTITY: ids start again
            assert xaio_db.execute("INSERT INTO projects (name) VALUES ('q') RETURNING id").fetchone() == (1,)
    """)
    project.runpytest("-p", "no:randomly").assert_outcomes(passed=2)
