"""Async SQLAlchemy apps (asyncpg, a module-level pooled engine) on the default transaction isolation:
the app's commits leave nothing, the test's rows and the app's are one view, nested transactions
work, and the app keeps one event loop whatever loop the tests run on."""

from __future__ import annotations

import pytest
from app_projects import APPS, copy_app

from pytest_xaio.postgres.aio_db import to_numeric_dollar

INI = """
[pytest]
xaio_app = aio_app:app
xaio_schema_sql = schema.sql
xaio_db_dependency = aio_app:get_session
xaio_jwt_secret_from = aio_app:SECRET_KEY
asyncio_default_fixture_loop_scope = function
xaio_public_routes =
    GET /health
    GET /items
    POST /items/batch
xaio_env =
    SECRET_KEY=aio-app-secret-0123456789abcdef0123456789
"""

# Run in file order (-p no:randomly): each test relies on the one before it having left nothing.
SYNC_TESTS = """
import pytest

@pytest.mark.parametrize("n", range(3))
def test_commit_through_the_app(xaio_client, xaio_db, n):
    created = xaio_client.post("/items", json={"name": "same-name"})   # UNIQUE: a leak would answer 409
    assert created.status_code == 201, created.text
    assert created.json() == {"count": 1}
    assert xaio_db.execute("SELECT name FROM items").fetchall() == [("same-name",)]

def test_next_test_sees_zero_rows(xaio_client, xaio_db):
    assert xaio_db.execute("SELECT count(*) FROM items").fetchone() == (0,)
    assert xaio_client.get("/items").json() == []

def test_rows_visible_both_ways(xaio_client, xaio_db, item_id):
    # item_id (a path-parameter fixture) and the user (the hook) were written through xaio_db
    assert xaio_client.get(f"/items/{item_id}").json() == {"id": item_id, "name": "fixture-item"}
    with xaio_db.cursor() as cur:
        cur.execute("INSERT INTO items (owner, name) VALUES (%(o)s, '100%% ' || %(n)s)", {"o": "test", "n": "test"})
        assert cur.rowcount == 1
    assert xaio_client.get("/items").json() == ["fixture-item", "100% test"]
    assert xaio_client.post("/items", json={"name": "by-app"}).status_code == 201
    rows = xaio_db.execute("SELECT name FROM items ORDER BY id").fetchall()
    assert rows == [("fixture-item",), ("100% test",), ("by-app",)]

def test_nested_begin_and_savepoints(xaio_client, xaio_db):
    response = xaio_client.post("/items/batch", json=["a", "b", "a", "c"])
    assert response.json() == {"kept": ["a", "b", "c"]}, response.text
    assert xaio_db.execute("SELECT count(*) FROM items").fetchone() == (3,)

def test_xaio_db_rollback_and_commit(xaio_db):
    import sqlalchemy.exc
    from pytest_xaio.postgres.isolation import IsolationError

    xaio_db.execute("INSERT INTO items (owner, name) VALUES ('t', 'dup')")
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        xaio_db.execute("INSERT INTO items (owner, name) VALUES ('t', 'dup')")
    xaio_db.rollback()      # back to the start of the test, usable again
    assert xaio_db.execute("SELECT count(*) FROM items").fetchone() == (0,)
    xaio_db.execute("INSERT INTO items (owner, name) VALUES ('t', 'x'); INSERT INTO items (owner, name) VALUES ('t', 'y')")
    assert xaio_db.execute("SELECT count(*) FROM items").fetchone() == (2,)
    with pytest.raises(IsolationError, match="commit"):
        xaio_db.commit()

def test_a_script_first_stays_in_the_transaction(xaio_db):
    # the driver runs a script itself: it must still run inside the test's transaction
    xaio_db.execute("INSERT INTO items (owner, name) VALUES ('t', 'p'); INSERT INTO items (owner, name) VALUES ('t', 'q')")

def test_users_are_gone_too(xaio_db):
    assert xaio_db.execute("SELECT count(*) FROM users").fetchone() == (0,)
    assert xaio_db.execute("SELECT count(*) FROM items").fetchone() == (0,)   # the scripts' rows too

@pytest.mark.endpoint_matrix
def test_matrix(case):
    case.validate(case.call())

def test_the_app_kept_one_loop(xaio_client):
    import aio_app

    assert xaio_client.get("/health").status_code == 200    # the pooled connection from earlier tests
    assert len(set(aio_app.LOOPS)) == 1, aio_app.LOOPS
"""

ASYNC_TESTS = """
import asyncio
import pytest

@pytest.mark.{mark}
async def test_async_commit(xaio_async_client, xaio_db, item_id):
    created = await xaio_async_client.post("/items", json={{"name": "same-name"}})
    assert created.status_code == 201, created.text
    assert (await xaio_async_client.get(f"/items/{{item_id}}")).json()["name"] == "fixture-item"
    assert (await xaio_async_client.get("/health")).status_code == 200
    assert xaio_db.execute("SELECT count(*) FROM items").fetchone() == (2,)

@pytest.mark.{mark}
async def test_async_again(xaio_async_client, xaio_client, xaio_db):
    assert xaio_db.execute("SELECT count(*) FROM items").fetchone() == (0,)
    assert (await xaio_async_client.post("/items", json={{"name": "same-name"}})).status_code == 201
    assert xaio_client.get("/items").json() == ["same-name"]     # the sync client: same app, same loop

def test_one_loop(xaio_client):
    import aio_app
    assert xaio_client.get("/health").status_code == 200
    assert len(set(aio_app.LOOPS)) == 1, aio_app.LOOPS
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    return copy_app(pytester, "aio", INI)


@pytest.mark.parametrize("args", [(), ("-n", "2")], ids=["plain", "xdist"])
def test_async_app_on_default_isolation(project: pytest.Pytester, args: tuple[str, ...]) -> None:
    project.makepyfile(test_sync=SYNC_TESTS)
    result = project.runpytest("-p", "no:randomly", *args)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0, result.stdout.str()
    assert outcomes.get("errors", 0) == 0, result.stdout.str()
    assert outcomes["passed"] >= 18  # 3 + 5 + the matrix cases + 1
    if not args:
        result.stdout.fnmatch_lines(
            ["*async session dependency aio_app:get_session: AsyncSession on postgresql+asyncpg*"]
        )


@pytest.mark.parametrize(
    ("mark", "args"),
    [
        ("asyncio", ()),
        ("asyncio(loop_scope='session')", ()),
        ("usefixtures()", ("-o", "asyncio_mode=auto", "-o", "asyncio_default_test_loop_scope=session")),
        ("anyio", ()),
    ],
    ids=["strict-function", "strict-session", "auto-session", "anyio"],
)
def test_async_tests_share_the_apps_loop(project: pytest.Pytester, mark: str, args: tuple[str, ...]) -> None:
    project.makepyfile(test_async=ASYNC_TESTS.format(mark=mark))
    project.runpytest("-p", "no:randomly", *args).assert_outcomes(passed=3)


@pytest.mark.parametrize("isolation", ["truncate", "clone"])
def test_truncate_and_clone_bind_the_apps_session_to_the_test_database(
    project: pytest.Pytester, isolation: str
) -> None:
    project.makepyfile(f"""
        import pytest

        pytestmark = pytest.mark.xaio_db(isolation="{isolation}")

        @pytest.mark.parametrize("n", range(2))
        def test_commit(xaio_client, xaio_db, xaio_database, n):
            assert xaio_client.post("/items", json={{"name": "same-name"}}).status_code == 201
            assert xaio_db.execute("SELECT count(*) FROM items").fetchone() == (1,)
            assert xaio_database.isolation == "{isolation}"
    """)
    project.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_database_set_up_before_the_app_says_what_to_do(project: pytest.Pytester) -> None:
    project.makeconftest(
        (APPS / "aio_conftest.py").read_text()
        + "\nfrom pytest_xaio.client import client_fixture\n\nother_client = client_fixture()\n"
    )
    project.makepyfile("""
        def test_order(xaio_db, other_client):
            pass
    """)
    result = project.runpytest()
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*xaio_database was set up before the app was loaded*", "*fix: request the client*"])


@pytest.mark.parametrize(
    ("query", "params", "expected"),
    [
        ("SELECT %s, %s", (1, "a"), ("SELECT $1, $2", (1, "a"))),
        ("SELECT %(a)s, %(b)s, %(a)s", {"a": 1, "b": 2}, ("SELECT $1, $2, $1", (1, 2))),
        ("SELECT '100%%' || %s", ("x",), ("SELECT '100%' || $1", ("x",))),
        ("SELECT %b, %t", (b"x", "y"), ("SELECT $1, $2", (b"x", "y"))),
    ],
)
def test_psycopg_placeholders_become_asyncpg_ones(query: str, params: object, expected: object) -> None:
    assert to_numeric_dollar(query, params) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "params", "message"),
    [
        ("SELECT %s, %s", (1,), "more placeholders"),
        ("SELECT %s", (1, 2), "fewer placeholders"),
        ("SELECT %(a)s", (1,), "as a mapping"),
        ("SELECT %s", {"a": 1}, "as a sequence"),
    ],
)
def test_placeholder_mismatches_are_type_errors(query: str, params: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        to_numeric_dollar(query, params)  # type: ignore[arg-type]


def test_the_async_session_dependency_is_found_without_the_setting(project: pytest.Pytester) -> None:
    project.makeini(INI.replace("xaio_db_dependency = aio_app:get_session\n", ""))
    project.makepyfile("""
        import pytest

        @pytest.mark.parametrize("n", range(2))
        def test_commit(xaio_client, xaio_db, n):
            assert xaio_client.post("/items", json={"name": "same-name"}).status_code == 201
            assert xaio_db.execute("SELECT count(*) FROM items").fetchone() == (1,)
    """)
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*async session dependency aio_app:get_session (found in the app's routes*"])


def test_a_killed_connection_fails_one_test_and_the_next_reconnects(project: pytest.Pytester) -> None:
    """The server ends the worker's async connection (an admin's pg_terminate_backend, a restart):
    the test using it fails, its rollback finds the connection broken, and the next test connects
    again and sees nothing of the broken one."""
    project.makepyfile("""
        import psycopg
        import pytest

        def test_connection_killed(xaio_client, xaio_db, xaio_database):
            assert xaio_client.post("/items", json={"name": "before-kill"}).status_code == 201
            pid = xaio_db.execute("SELECT pg_backend_pid()").fetchone()[0]
            with psycopg.connect(xaio_database.url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            xaio_db.execute("SELECT 1")

        def test_next_test_reconnects(xaio_client, xaio_db):
            assert xaio_db.execute("SELECT count(*) FROM items").fetchone() == (0,)
            assert xaio_client.post("/items", json={"name": "after-kill"}).status_code == 201
            assert xaio_db.execute("SELECT name FROM items").fetchall() == [("after-kill",)]
    """)
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*FAILED test_a_killed_connection*::test_connection_killed*"])


def test_transaction_tests_and_truncate_tests_mixed(project: pytest.Pytester) -> None:
    """A truncate test right after transaction tests: the earlier rollback (run without waiting)
    has ended before the tables are emptied, and neither kind sees the other's rows."""
    project.makepyfile("""
        import pytest

        @pytest.mark.parametrize("n", range(2))
        def test_in_transaction(xaio_client, xaio_db, n):
            assert xaio_client.post("/items", json={"name": "same-name"}).status_code == 201
            assert xaio_db.execute("SELECT count(*) FROM items").fetchone() == (1,)

        @pytest.mark.xaio_db(isolation="truncate")
        def test_truncated(xaio_client, xaio_db):
            assert xaio_db.execute("SELECT count(*) FROM items").fetchone() == (0,)
            assert xaio_client.post("/items", json={"name": "same-name"}).status_code == 201

        def test_in_transaction_after(xaio_client, xaio_db):
            assert xaio_db.execute("SELECT count(*) FROM items").fetchone() == (0,)
            assert xaio_client.post("/items", json={"name": "same-name"}).status_code == 201
    """)
    project.runpytest("-p", "no:randomly").assert_outcomes(passed=4)
