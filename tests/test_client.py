"""The HTTP clients against a real FastAPI app and real PostgreSQL: auth, users, rollback, lifespan."""

from __future__ import annotations

import pytest
from app_projects import CLIENT_INI, copy_app


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    return copy_app(pytester, "client", CLIENT_INI)


def test_app_sees_the_test_database(project: pytest.Pytester) -> None:
    project.makepyfile("""
        def test_db(xaio_client, xaio_database):
            body = xaio_client.get("/db").json()
            assert body == {"database": xaio_database.name, "imported_with": xaio_database.name}
    """)
    project.runpytest().assert_outcomes(passed=1)


def test_user_row_is_seen_by_the_app_and_gone_in_the_next_test(project: pytest.Pytester) -> None:
    project.makepyfile("""
        def test_me(xaio_client, xaio_user, xaio_db):
            body = xaio_client.get("/me").json()
            assert body["sub"] == str(xaio_user["id"])
            assert body["user"] == {"email": xaio_user["email"], "plan": "free", "is_superuser": False}
            assert xaio_client.xaio_user == xaio_user

        def test_next(xaio_db):
            assert xaio_db.execute("SELECT count(*) FROM users").fetchone() == (0,)
    """)
    project.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


APP_COMMITS = """
import pytest

@pytest.mark.parametrize("n", range(4))
def test_write(xaio_client, xaio_db, n):
    assert xaio_client.post("/items", json={"name": f"i{n}"}).json() == {"count": 1}
    assert xaio_client.get("/items").json() == [f"i{n}"]
    assert xaio_db.execute("SELECT name FROM items").fetchall() == [(f"i{n}",)]
"""


@pytest.mark.parametrize(
    "args", [(), ("-n", "2"), ("--xaio-isolation", "truncate")], ids=["plain", "xdist", "truncate"]
)
def test_the_apps_commit_works_and_leaves_nothing(project: pytest.Pytester, args: tuple[str, ...]) -> None:
    project.makepyfile(APP_COMMITS)
    project.runpytest("-p", "no:randomly", *args).assert_outcomes(passed=4)


def test_override_is_removed_after_the_test(project: pytest.Pytester) -> None:
    project.makepyfile("""
        import client_app

        def test_with_client(xaio_client, xaio_app):
            assert client_app.get_db in xaio_app.dependency_overrides

        def test_after(xaio_app):
            assert xaio_app.dependency_overrides == {}
    """)
    project.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_anon_client_sends_no_token_and_tokens_are_checked(project: pytest.Pytester) -> None:
    project.makepyfile("""
        def test_anon(xaio_anon_client, xaio_token, xaio_auth_headers):
            assert xaio_anon_client.get("/me").status_code == 401
            assert xaio_anon_client.get("/me", headers=xaio_auth_headers()).status_code == 200
            for token in (xaio_token.expired(), xaio_token.wrong_signature(), xaio_token.alg_none(),
                          xaio_token.malformed(), xaio_token.wrong_audience(), xaio_token.not_yet_valid()):
                response = xaio_anon_client.get("/me", headers=xaio_token.headers(token))
                assert response.status_code == 401, (token, response.text)

        def test_client_header_can_be_replaced(xaio_client, xaio_token):
            assert xaio_client.get("/me").status_code == 200
            assert xaio_client.get("/me", headers=xaio_token.headers(xaio_token.expired())).status_code == 401
    """)
    project.runpytest().assert_outcomes(passed=2)


def test_users_with_attributes(project: pytest.Pytester) -> None:
    project.makepyfile(
        conftest_extra="""
        from pytest_xaio.client import client_fixture

        admin_client = client_fixture(user_attrs={"is_superuser": True, "plan": "pro"})
    """
    )
    (project.path / "conftest.py").write_text(
        (project.path / "conftest.py").read_text() + (project.path / "conftest_extra.py").read_text()
    )
    (project.path / "conftest_extra.py").unlink()
    project.makepyfile("""
        import pytest

        @pytest.mark.parametrize("xaio_user", [{"plan": "free"}, {"plan": "pro"}], indirect=True)
        def test_plans(xaio_client, xaio_user):
            assert xaio_client.get("/me").json()["user"]["plan"] == xaio_user["plan"]

        def test_admin(admin_client):
            assert admin_client.get("/me").json()["user"]["is_superuser"] is True
            assert admin_client.xaio_user["plan"] == "pro"

        def test_factory(xaio_user_factory, xaio_token, xaio_anon_client, request):
            other = xaio_user_factory(email="other@example.com")  # xaio_db is requested only now
            xaio_db = request.getfixturevalue("xaio_db")
            body = xaio_anon_client.get("/me", headers=xaio_token.headers(xaio_token.for_user(other))).json()
            assert body["user"]["email"] == "other@example.com"
            # xaio_token is bound to xaio_user, so that row exists too
            assert xaio_db.execute("SELECT count(*) FROM users").fetchone() == (2,)
    """)
    (project.path / "test_factory_alone.py").write_text(
        "def test_alone(xaio_user_factory, request):\n"
        "    user = xaio_user_factory(plan='pro')\n"
        "    rows = request.getfixturevalue('xaio_db').execute('SELECT id, plan FROM users').fetchall()\n"
        "    assert rows == [(user['id'], 'pro')]\n"
    )
    result = project.runpytest("-v")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*test_plans?xaio_user0? PASSED*", "*test_plans?xaio_user1? PASSED*"])


def test_no_hook_means_a_fixed_user_and_no_row(project: pytest.Pytester) -> None:
    (project.path / "conftest.py").unlink()
    project.makepyfile("""
        def test_me(xaio_client, xaio_user, xaio_db):
            assert xaio_user.id == "xaio-test-user"
            assert xaio_client.get("/me").json() == {"sub": "xaio-test-user", "user": None}
            assert xaio_db.execute("SELECT count(*) FROM users").fetchone() == (0,)
    """)
    project.runpytest().assert_outcomes(passed=1)


def test_lifespan_runs_for_the_sync_client(project: pytest.Pytester) -> None:
    project.makepyfile("""
        import client_app

        def test_with_client(xaio_client):
            assert client_app.EVENTS == ["startup"]
            assert xaio_client.get("/lifespan").json() == {"greeting": "hello from lifespan", "started": True}

        def test_after():
            assert client_app.EVENTS == ["startup", "shutdown"]
    """)
    project.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_sync_client_streams_and_speaks_websocket(project: pytest.Pytester) -> None:
    """The sync client runs on the session's app loop: a streamed body arrives whole, a websocket
    goes both ways, and the requests before and after still work."""
    project.makepyfile("""
        def test_stream_and_websocket(xaio_anon_client):
            assert xaio_anon_client.get("/stream").text == "chunk-0;chunk-1;chunk-2;"
            with xaio_anon_client.stream("GET", "/stream") as response:
                # (chunk by chunk on newer Starlette; older ones hand the body over whole)
                assert b"".join(response.iter_bytes()) == b"chunk-0;chunk-1;chunk-2;"
            with xaio_anon_client.websocket_connect("/ws") as ws:
                ws.send_text("hi")
                assert ws.receive_text() == "echo: hi"
                ws.send_text("bye")
            assert xaio_anon_client.get("/health").status_code == 200
    """)
    project.runpytest().assert_outcomes(passed=1)


ASYNC_TESTS = """
import pytest
import client_app

@pytest.mark.{mark}
async def test_async(xaio_async_client, xaio_user, xaio_token):
    assert client_app.EVENTS == ["startup"]
    assert (await xaio_async_client.get("/lifespan")).json() == {{"greeting": "hello from lifespan", "started": True}}
    body = (await xaio_async_client.get("/me")).json()
    assert body["user"]["email"] == xaio_user["email"]
    created = await xaio_async_client.post("/items", json={{"name": "async"}})
    assert created.status_code == 201, created.text
    expired = await xaio_async_client.get("/me", headers=xaio_token.headers(xaio_token.expired()))
    assert expired.status_code == 401
    assert xaio_async_client._transport.app.dependency_overrides is client_app.app.dependency_overrides

def test_after(xaio_db):
    assert client_app.EVENTS == ["startup", "shutdown"]
    assert xaio_db.execute("SELECT count(*) FROM items").fetchone() == (0,)
"""


@pytest.mark.parametrize("mark", ["asyncio", "anyio"])
def test_async_client_runs_lifespan_and_joins_the_transaction(project: pytest.Pytester, mark: str) -> None:
    project.makepyfile(ASYNC_TESTS.format(mark=mark))
    project.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_async_client_in_pytest_asyncio_auto_mode(project: pytest.Pytester) -> None:
    project.makepyfile(ASYNC_TESTS.format(mark="usefixtures()"))
    project.runpytest("-p", "no:randomly", "-o", "asyncio_mode=auto").assert_outcomes(passed=2)


def test_client_fixture_that_returns_500s(project: pytest.Pytester) -> None:
    project.makeconftest("""
        from pytest_xaio.client import client_fixture

        raw_client = client_fixture(authenticated=False, raise_server_exceptions=False, headers={"X-Test": "1"})
        async_raw_client = client_fixture(authenticated=False, raise_server_exceptions=False, asynchronous=True)
    """)
    project.makepyfile("""
        import pytest

        def test_raw(raw_client):
            assert raw_client.get("/boom").status_code == 500
            assert raw_client.get("/me").status_code == 401
            assert raw_client.xaio_user is None

        def test_default_raises(xaio_anon_client):
            with pytest.raises(RuntimeError, match="planted bug"):
                xaio_anon_client.get("/boom")

        @pytest.mark.anyio
        async def test_async_raw(async_raw_client):
            assert (await async_raw_client.get("/boom")).status_code == 500
            assert (await async_raw_client.get("/lifespan")).json()["started"] is True
    """)
    project.runpytest().assert_outcomes(passed=3)


def test_async_client_shares_a_module_scoped_loop(project: pytest.Pytester) -> None:
    project.makepyfile("""
        import asyncio
        import pytest

        LOOPS = []

        @pytest.mark.asyncio(loop_scope="module")
        async def test_first(xaio_async_client):
            LOOPS.append(asyncio.get_running_loop())
            assert (await xaio_async_client.get("/health")).status_code == 200

        @pytest.mark.asyncio(loop_scope="module")
        async def test_second(xaio_async_client):
            assert asyncio.get_running_loop() is LOOPS[0]
            assert (await xaio_async_client.get("/health")).status_code == 200
    """)
    project.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_async_client_in_a_sync_test_says_what_to_do(project: pytest.Pytester) -> None:
    project.makepyfile("def test_sync(xaio_async_client): pass")
    result = project.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*xaio_async_client is for async tests*"])


def test_nothing_heavy_is_imported_without_app_fixtures(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # other plugins (respx...) import httpx
    project.makepyfile("""
        import sys

        def test_db_and_users(xaio_db, xaio_user_factory):
            assert xaio_user_factory()["id"] > 0
            loaded = sorted(m for m in ("fastapi", "starlette", "httpx", "jwt") if m in sys.modules)
            assert loaded == []
    """)
    project.runpytest_subprocess("-p", "xaio", "-W", "ignore::pytest.PytestConfigWarning").assert_outcomes(passed=1)


def test_a_failing_startup_is_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        failing_app="""
        from contextlib import asynccontextmanager
        from fastapi import FastAPI

        @asynccontextmanager
        async def lifespan(app):
            raise ConnectionError("cache server unreachable")
            yield

        app = FastAPI(lifespan=lifespan)
    """
    )
    pytester.makeini(
        "[pytest]\nxaio_app = failing_app:app\nxaio_postgres = none\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile("""
        import pytest

        def test_sync(xaio_anon_client):
            pass

        @pytest.mark.asyncio
        async def test_async(request):
            from pytest_xaio.app import load_app, open_async_client
            with pytest.raises(RuntimeError, match="(?s)lifespan startup failed.*cache server unreachable"):
                async with open_async_client(load_app(request.config)):
                    pass
    """)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ConnectionError: cache server unreachable*"])


ONE_LIBRARY = """
import pytest

def library(client):
    return next(c.__module__.split(".")[0] for c in type(client).__mro__ if c.__name__ in ("Client", "AsyncClient"))

def test_sync(xaio_client):
    assert library(xaio_client) == "{expected}"
    assert xaio_client.get("/health").status_code == 200

@pytest.mark.{mark}
async def test_async(xaio_async_client):
    assert library(xaio_async_client) == "{expected}"
    assert (await xaio_async_client.get("/me")).status_code == 200
"""


def _expected_library() -> str:
    try:
        import httpx2  # noqa: F401
    except ImportError:
        return "httpx"
    return "httpx2"


@pytest.mark.parametrize(
    ("mark", "args"),
    [("asyncio", ()), ('usefixtures("xaio_user")', ("-o", "asyncio_mode=auto")), ("anyio", ())],
    ids=["asyncio-strict", "asyncio-auto", "anyio"],
)
def test_both_clients_use_one_library_and_warn_nothing(
    project: pytest.Pytester, mark: str, args: tuple[str, ...]
) -> None:
    """Under -W error: no pytest-asyncio strict-mode warning, no Starlette httpx deprecation."""
    project.makepyfile(ONE_LIBRARY.format(mark=mark, expected=_expected_library()))
    result = project.runpytest_subprocess("-W", "error", "-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=2)
