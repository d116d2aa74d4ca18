"""Real app shapes run unchanged (tests/projects/sqlmodel_app and async_app), and never reach the
developer's database.

Each project's settings default to a "developer" database on the machine's PostgreSQL. These tests
create that database (a unique name), migrate it the way a developer would (``alembic upgrade head``
from a shell), seed rows, run the project's own suite through the plugin, and check the database
still holds exactly what it held (row counts of every table, before and after). The projects run
in child processes (their packages are both called ``app``), with ini keys and a conftest hook only.

Both projects run on the embedded default and on the URL provider, each without xdist and with
``-n 2`` (async_app's own ``addopts = "-n auto"`` is overridden by the ``-n`` given). The embedded runs share the
machine's one embedded cluster (the cache the outer session holds up) and the template cached by
the migrations' hash, so only the first run builds anything.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from projects import copy_project
from psycopg import sql

SERVICE = "postgresql://postgres@127.0.0.1:5432"


def _child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XAIO_", "PYTEST_", "PG")) or k == "XAIO_CACHE_DIR"}
    env.pop("DATABASE_URL", None)
    env.update(extra)
    return env


def run(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The project's suite as its developer runs it: ``pytest`` in the project folder."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env or _child_env(),
    )


def alembic_upgrade(project: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**env, "PYTHONPATH": str(project)},
    )
    assert done.returncode == 0, done.stderr


def row_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            ).fetchall()
        ]
        return {t: (conn.execute(f"SELECT count(*) FROM {t}".encode()).fetchone() or (0,))[0] for t in tables}


class DeveloperDatabase:
    """A database of the developer's, on the machine's server: made, migrated and seeded here."""

    def __init__(self, project: str) -> None:
        self.name = f"devdb_{project}_{uuid.uuid4().hex[:8]}"
        self.url = f"{SERVICE}/{self.name}"

    def __enter__(self) -> DeveloperDatabase:
        with psycopg.connect(f"{SERVICE}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        return self

    def __exit__(self, *exc: object) -> None:
        with psycopg.connect(f"{SERVICE}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))


@pytest.fixture(scope="module")
def sqlmodel_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, DeveloperDatabase]]:
    """sqlmodel_app with a .env pointing at a seeded developer database (as a developer's checkout has)."""
    project = copy_project("sqlmodel_app", tmp_path_factory.mktemp("sqlmodel"))
    with DeveloperDatabase("sqlmodel") as dev:
        (project / ".env").write_text(
            f"POSTGRES_SERVER=localhost\nPOSTGRES_PORT=5432\nPOSTGRES_USER=postgres\nPOSTGRES_DB={dev.name}\n"
        )
        alembic_upgrade(project, _child_env())
        with psycopg.connect(dev.url, autocommit=True) as conn:
            conn.execute(
                'INSERT INTO "user" (email, is_active, is_superuser, hashed_password) VALUES '
                "('dev@example.com', true, true, 'x'), ('other@example.com', true, false, 'x')"
            )
            conn.execute("INSERT INTO item (title, owner_id) SELECT 'dev item', id FROM \"user\"")
        yield project, dev


@pytest.fixture(scope="module")
def async_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, DeveloperDatabase]]:
    project = copy_project("async_app", tmp_path_factory.mktemp("async"))
    with DeveloperDatabase("async") as dev:
        (project / ".env").write_text(f"DATABASE__HOSTNAME=127.0.0.1\nDATABASE__DB={dev.name}\n")
        alembic_upgrade(project, _child_env())
        with psycopg.connect(dev.url, autocommit=True) as conn:
            conn.execute("INSERT INTO user_account (email, hashed_password) VALUES ('dev@example.com', 'x')")
            conn.execute("INSERT INTO pet (owner_id, name) SELECT user_id, 'dev pet' FROM user_account")
        yield project, dev


def assert_green(done: subprocess.CompletedProcess[str], *ids: str) -> None:
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " failed" not in done.stdout.splitlines()[-1]
    for test_id in ids:
        assert f"PASSED {test_id}" in done.stdout, test_id


SQLMODEL_IDS = (
    "tests/test_items.py::test_settings_point_at_the_test_database",
    "tests/test_items.py::test_create_and_read_item",
    "tests/test_items.py::test_nothing_left_from_the_last_test",
    "tests/test_items.py::test_the_override_yields_a_sqlmodel_session",
    "tests/test_items.py::test_me_is_the_hook_user",
    # OAuth2PasswordBearer answers 401 without a header, although the ini says unauthenticated = 403
    "tests/test_items.py::test_endpoints[GET /api/v1/items/-401-missing-auth]",
    "tests/test_items.py::test_endpoints[GET /api/v1/items/-401-wrong-signature]",
    "tests/test_items.py::test_endpoints[POST /api/v1/items/-201-success]",
)
ASYNC_IDS = (
    "tests/test_pets.py::test_settings_point_at_the_test_database",
    "tests/test_pets.py::test_commit_through_the_app[0]",
    "tests/test_pets.py::test_commit_through_the_app[1]",
    "tests/test_pets.py::test_commit_through_the_app[2]",
    "tests/test_pets.py::test_nothing_left_from_the_commits",
    "tests/test_pets.py::test_create_and_count_pets",
    "tests/test_pets.py::test_nothing_left_from_the_last_test",
    "tests/test_pets.py::test_an_async_test_shares_the_view",
    "tests/test_pets.py::test_rows_of_the_test_and_of_the_app_are_one_view",
    "tests/test_pets.py::test_begin_and_begin_nested_in_the_app",
    "tests/test_pets.py::test_sync_client_through_trusted_host",
    "tests/test_pets.py::test_endpoints[GET /health-200-success]",
    "tests/test_pets.py::test_endpoints[POST /users-201-success]",
    "tests/test_pets.py::test_endpoints[POST /pets-201-success]",
    "tests/test_pets.py::test_endpoints[POST /pets/batch-201-success]",
    "tests/test_pets.py::test_endpoints[GET /pets/{pet_id}-200-success]",
    "tests/test_pets.py::test_endpoints[DELETE /pets/{pet_id}-204-success]",
    "tests/test_pets.py::test_the_pool_still_answers_after_the_matrix",
)

#: Every project runs on both providers, without xdist and with two workers.
PROVIDERS = {"embedded": (), "url": (f"--xaio-postgres-url={SERVICE}/postgres",)}
# The -n 2 runs (about 12-14 s each here) are in the slow step of .ci/run.
RUNS = [
    pytest.param(provider, workers, id=f"{provider}-n{workers}", marks=[pytest.mark.slow] if workers == "2" else [])
    for provider in PROVIDERS
    for workers in "02"
]


def run_on(project: Path, provider: str, workers: str) -> subprocess.CompletedProcess[str]:
    done = run(project, "-n", workers, *PROVIDERS[provider])
    if workers != "0":  # xdist ran it
        assert "2 workers [" in done.stdout, done.stdout[-3000:]
    return done


@pytest.mark.parametrize(("provider", "workers"), RUNS)
def test_sqlmodel_app(sqlmodel_dev: tuple[Path, DeveloperDatabase], provider: str, workers: str) -> None:
    project, dev = sqlmodel_dev
    before = row_counts(dev.url)
    assert before == {"alembic_version": 1, "item": 2, '"user"': 2}
    assert_green(run_on(project, provider, workers), *SQLMODEL_IDS)
    assert row_counts(dev.url) == before


@pytest.mark.parametrize(("provider", "workers"), RUNS)
def test_async_app(async_dev: tuple[Path, DeveloperDatabase], provider: str, workers: str) -> None:
    """The async project on the default transaction isolation (its ini sets none)."""
    project, dev = async_dev
    assert "xaio_isolation" not in (project / "pyproject.toml").read_text()
    before = row_counts(dev.url)
    assert before == {"alembic_version": 1, "pet": 1, "user_account": 1}
    done = run_on(project, provider, workers)
    assert_green(done, *ASYNC_IDS)
    assert "one rolled-back transaction per test" in done.stdout
    assert row_counts(dev.url) == before


# --- the app would reach the developer's database: the guard stops it -------------------------------
def _without_env_line(project: Path, name: str) -> None:
    path = project / "pyproject.toml"
    path.write_text("\n".join(line for line in path.read_text().splitlines() if f'"{name}=' not in line) + "\n")


def test_migrations_aimed_at_the_developer_database_are_stopped(
    sqlmodel_dev: tuple[Path, DeveloperDatabase], tmp_path: Path
) -> None:
    """env.py builds its URL from settings; without the POSTGRES_DB mapping it would migrate the
    developer's database. The migration child refuses to connect there and says where it tried."""
    source, dev = sqlmodel_dev
    project = copy_project("sqlmodel_app", tmp_path)
    (project / ".env").write_text((source / ".env").read_text())
    _without_env_line(project, "POSTGRES_DB")
    before = row_counts(dev.url)
    done = run(project, "-n", "0")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "the migrations did not run on the test template" in done.stderr
    # host and port come from the other xaio_env lines, the database name from the developer's .env
    assert f"/{dev.name} (stopped before it connected; that database was not touched)" in done.stderr
    assert "env.py tried to connect to postgresql://postgres@127.0.0.1:" in done.stderr
    assert "fix: build env.py's URL from what the plugin exports" in done.stderr
    assert "fix that migration" not in done.stderr
    assert row_counts(dev.url) == before


def test_migrations_aimed_at_a_database_that_does_not_exist_say_where_not_fix_that_migration(
    tmp_path: Path,
) -> None:
    """The developer's .env names a database that is not there: the message still says where env.py
    tried to connect and how to point it at the template, not "fix that migration"."""
    project = copy_project("sqlmodel_app", tmp_path)
    missing = f"devdb_missing_{uuid.uuid4().hex[:8]}"
    (project / ".env").write_text(
        f"POSTGRES_SERVER=localhost\nPOSTGRES_PORT=5432\nPOSTGRES_USER=postgres\nPOSTGRES_DB={missing}\n"
    )
    _without_env_line(project, "POSTGRES_DB")
    done = run(project, "-n", "0", f"--xaio-postgres-url={SERVICE}/postgres")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "the migrations did not run on the test template" in done.stderr
    assert f"/{missing} (stopped before it connected; that database was not touched)" in done.stderr
    assert "fix: build env.py's URL from what the plugin exports" in done.stderr
    assert "fix that migration" not in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_async_env_py_aimed_at_the_developer_database_is_stopped(
    async_dev: tuple[Path, DeveloperDatabase], tmp_path: Path
) -> None:
    """The same through asyncpg and an async env.py."""
    source, dev = async_dev
    project = copy_project("async_app", tmp_path)
    (project / ".env").write_text((source / ".env").read_text())
    _without_env_line(project, "DATABASE__DB")
    before = row_counts(dev.url)
    done = run(project, "-n", "0")
    assert done.returncode == 4, done.stdout + done.stderr
    assert f"/{dev.name} (stopped before it connected; that database was not touched)" in done.stderr
    assert row_counts(dev.url) == before


SCHEMA = """
CREATE TABLE "user" (id uuid PRIMARY KEY, email varchar(255) NOT NULL UNIQUE, is_active boolean NOT NULL,
    is_superuser boolean NOT NULL, full_name varchar(255), hashed_password varchar NOT NULL);
CREATE TABLE item (id uuid PRIMARY KEY, title varchar(255) NOT NULL, description varchar(255),
    owner_id uuid NOT NULL REFERENCES "user" (id) ON DELETE CASCADE);
"""


def test_an_app_connecting_to_the_developer_database_fails_with_the_guards_message(
    sqlmodel_dev: tuple[Path, DeveloperDatabase], tmp_path: Path
) -> None:
    """The schema comes from a SQL file (no env.py to stop), the POSTGRES_* mapping is missing and the
    dependency is not overridden: the app's own engine aims at the developer's database, and the test
    that reaches it fails."""
    source, dev = sqlmodel_dev
    project = copy_project("sqlmodel_app", tmp_path)
    (project / ".env").write_text((source / ".env").read_text())
    (project / "schema.sql").write_text(SCHEMA)
    for name in ("POSTGRES_SERVER", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"):
        _without_env_line(project, name)  # no mapping at all: the .env file's values are used
    text = (
        (project / "pyproject.toml")
        .read_text()
        .replace('xaio_migrations = "alembic.ini"', 'xaio_schema_sql = "schema.sql"')
    )
    # and no xaio_db_dependency: the requests use the app's own engine
    (project / "pyproject.toml").write_text(text.replace('xaio_db_dependency = "app.api.deps:get_db"', ""))
    before = row_counts(dev.url)
    done = run(project, "-n", "0", "tests/test_items.py::test_create_and_read_item")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"refused a database connection to postgresql://postgres@localhost:5432/{dev.name}" in done.stdout
    assert "fix: map the settings the app reads to the test database with xaio_env lines" in done.stdout
    assert row_counts(dev.url) == before


ASYNC_SCHEMA = """
CREATE TABLE user_account (user_id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email varchar(256) NOT NULL UNIQUE,
    hashed_password varchar(128) NOT NULL);
CREATE TABLE pet (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name varchar(128) NOT NULL,
    owner_id uuid NOT NULL REFERENCES user_account (user_id) ON DELETE CASCADE, UNIQUE (owner_id, name));
"""


def test_an_async_app_connecting_to_the_developer_database_fails_with_the_guards_message(
    async_dev: tuple[Path, DeveloperDatabase], tmp_path: Path
) -> None:
    """The same for the async project: no DATABASE__* mapping, so the module-level asyncpg pool that
    /health uses aims at the developer's database (the sessions are overridden), and the guard stops it."""
    source, dev = async_dev
    project = copy_project("async_app", tmp_path)
    (project / ".env").write_text((source / ".env").read_text())
    (project / "schema.sql").write_text(ASYNC_SCHEMA)
    for name in ("HOSTNAME", "PORT", "USERNAME", "PASSWORD", "DB"):
        _without_env_line(project, f"DATABASE__{name}")
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(
        text.replace('xaio_migrations = "alembic.ini"', 'xaio_schema_sql = "schema.sql"')
    )
    before = row_counts(dev.url)
    done = run(project, "-n", "0", "tests/test_pets.py::test_sync_client_through_trusted_host")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"refused a database connection to postgresql://postgres@127.0.0.1:5432/{dev.name}" in done.stdout
    assert "fix: map the settings the app reads to the test database with xaio_env lines" in done.stdout
    assert row_counts(dev.url) == before


def test_allow_databases_lets_a_listed_database_through(
    pytester: pytest.Pytester, sqlmodel_dev: tuple[Path, DeveloperDatabase]
) -> None:
    """psycopg 3 and psycopg2 both go through the guard; xaio_allow_databases is the opt-out."""
    _, dev = sqlmodel_dev
    pytester.makeini(f"[pytest]\nxaio_env =\n    APP_ENV=test\nxaio_allow_databases =\n    {dev.name}\n")
    pytester.makepyfile(
        f"""
        import psycopg, psycopg2

        def test_listed(xaio_db):
            with psycopg.connect("{dev.url}") as conn:
                assert conn.execute("SELECT count(*) FROM item").fetchone() == (2,)
            psycopg2.connect("{dev.url}").close()

        def test_not_listed_psycopg2(xaio_db):
            psycopg2.connect("{SERVICE}/postgres")

        def test_not_listed_psycopg(xaio_db):
            psycopg.connect(host="127.0.0.1", port=5432, dbname="postgres", user="postgres")

        def test_swallowed(xaio_db):
            try:
                psycopg.connect("{SERVICE}/postgres")
            except Exception:
                pass  # an app that catches the error still fails the test
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*WrongDatabaseError: pytest-xaio: refused a database connection to postgresql://postgres@127.0.0.1:5432/postgres:*",
            "*to allow this database on purpose, list it in xaio_allow_databases",
        ]
    )
    assert result.stdout.str().count("refused a database connection") >= 3


def test_an_empty_template_says_where_the_migrations_went(pytester: pytest.Pytester) -> None:
    """An env.py that reports success without migrating the database it was given."""
    pytester.makeini("[pytest]\nxaio_migrations = alembic.ini\nxaio_env =\n    APP_ENV=test\n")
    pytester.makefile(".ini", alembic="[alembic]\nscript_location = migrations\n")
    pytester.mkdir("migrations")
    pytester.path.joinpath("migrations", "env.py").write_text("# connects nowhere and migrates nothing\n")
    pytester.mkdir("migrations/versions")
    pytester.path.joinpath("migrations", "versions", "a1_init.py").write_text(
        "revision = 'a1'\ndown_revision = None\nbranch_labels = None\ndepends_on = None\n\n"
        "def upgrade():\n    pass\n\ndef downgrade():\n    pass\n"
    )
    pytester.makepyfile("def test_db(xaio_db):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    # as a usage error at start-up, or (inside an xdist worker of this suite) through the session's exit
    output = result.stdout.str() + result.stderr.str()
    assert re.search(
        r"the migrations finished, but the template database xaio_\S+ has no alembic_version table: they ran "
        r"somewhere else \(env.py connected to: no database the plugin could see\)",
        output,
    ), output[-3000:]
    assert "fix: build env.py's URL from what the plugin exports" in output
    assert result.ret != 0
