"""Loading the app: after the env is exported, once per session, and one clear error when it can't be."""

from __future__ import annotations

import os

import pytest

from pytest_xaio.errors import XaioConfigError
from pytest_xaio.resolve import resolve_object

APP = """
import os
from fastapi import FastAPI

IMPORTED_WITH = os.environ.get("DATABASE_URL")
IMPORTS = [1]
app = FastAPI()

@app.get("/env")
def env():
    return {"database_url": IMPORTED_WITH}
"""

FACTORY = """
import os
from fastapi import FastAPI

CALLS = []

def create_app():
    CALLS.append(os.environ["DATABASE_URL"])
    app = FastAPI(title="from factory")

    @app.get("/title")
    def title():
        return {"title": app.title}

    return app
"""


def ini(pytester: pytest.Pytester, *lines: str) -> None:
    pytester.makeini(
        "\n".join(
            [
                "[pytest]",
                "asyncio_default_fixture_loop_scope = function",
                "xaio_jwt_secret = app-loading-secret-0123456789abcdef0123",
                *lines,
            ]
        )
        + "\n"
    )


def test_app_is_imported_after_the_env_is_exported_and_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(webapp=APP)
    ini(pytester, "xaio_app = webapp:app")
    pytester.makepyfile("""
        import sys

        def test_one(xaio_client, xaio_db_url):
            assert xaio_client.get("/env").json() == {"database_url": xaio_db_url}

        def test_two(xaio_app, xaio_anon_client):
            assert xaio_app is sys.modules["webapp"].app
            assert xaio_anon_client.get("/env").status_code == 200
    """)
    pytester.runpytest().assert_outcomes(passed=2)


def test_factory_spec(pytester: pytest.Pytester) -> None:
    pkg = pytester.mkpydir("webpkg")
    (pkg / "factory.py").write_text(FACTORY)
    ini(pytester, "xaio_app = webpkg.factory:create_app()")
    pytester.makepyfile("""
        import pytest
        from webpkg import factory

        @pytest.mark.parametrize("n", range(3))
        def test_title(xaio_anon_client, xaio_db_url, n):
            assert xaio_anon_client.get("/title").json() == {"title": "from factory"}
            assert factory.CALLS == [xaio_db_url]
    """)
    pytester.runpytest().assert_outcomes(passed=3)


def test_a_test_module_may_import_the_app_at_the_top(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(webapp=APP)
    ini(pytester, "xaio_app = webapp:app")
    pytester.makepyfile("""
        from webapp import IMPORTED_WITH, app

        def test_env(xaio_app, xaio_db_url):
            assert xaio_app is app
            assert IMPORTED_WITH == xaio_db_url
    """)
    pytester.runpytest().assert_outcomes(passed=1)


def test_app_at_the_rootdir_is_found_when_tests_live_in_a_folder(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(webapp=APP)
    ini(pytester, "xaio_app = webapp:app", "xaio_postgres = none")
    pytester.mkdir("tests")
    (pytester.path / "tests" / "test_app.py").write_text(
        "def test_env(xaio_anon_client):\n    assert xaio_anon_client.get('/env').status_code == 200\n"
    )
    pytester.runpytest("tests").assert_outcomes(passed=1)


def assert_usage_error(result: pytest.RunResult, *lines: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.stdout.fnmatch_lines(list(lines))
    assert "Traceback" not in result.stdout.str()
    assert result.stdout.str().count("pytest-xaio:") == 1


TWO_TESTS = """
def test_a(xaio_client): pass
def test_b(xaio_anon_client): pass
"""


def test_an_app_that_fails_on_import_is_one_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        broken="""
        import os
        from fastapi import FastAPI

        if not os.environ.get("STRIPE_API_KEY"):
            raise RuntimeError("STRIPE_API_KEY is not set")
        app = FastAPI()
    """
    )
    ini(pytester, "xaio_app = broken:app", "xaio_postgres = none")
    pytester.makepyfile(TWO_TESTS)
    assert_usage_error(
        pytester.runpytest(),
        "*could not import xaio_app 'broken:app': RuntimeError: STRIPE_API_KEY is not set*",
        "*at *broken.py:5: raise RuntimeError(*",
        "*fix: fix the error above in the app*",
    )


def test_a_missing_module_inside_the_app_is_the_apps_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(broken="import not_installed_anywhere\napp = None\n")
    ini(pytester, "xaio_app = broken:app", "xaio_postgres = none")
    pytester.makepyfile(TWO_TESTS)
    assert_usage_error(
        pytester.runpytest(),
        "*ModuleNotFoundError: No module named 'not_installed_anywhere'*",
        "*fix: fix the error above in the app*",
    )


def test_an_unknown_module(pytester: pytest.Pytester) -> None:
    ini(pytester, "xaio_app = nowhere.main:app", "xaio_postgres = none")
    pytester.makepyfile(TWO_TESTS)
    assert_usage_error(
        pytester.runpytest(),
        "*could not import xaio_app 'nowhere.main:app': ModuleNotFoundError: No module named 'nowhere'*",
        "*fix: check the module path in xaio_app*pythonpath*",
    )


def test_a_missing_attribute(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(webapp=APP)
    ini(pytester, "xaio_app = webapp:application", "xaio_postgres = none")
    pytester.makepyfile(TWO_TESTS)
    assert_usage_error(
        pytester.runpytest(),
        "*xaio_app 'webapp:application': 'webapp' has no attribute 'application'*",
        "*available names: *app*",
    )


def test_a_factory_that_raises(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(webapp="def create_app():\n    raise ValueError('no config')\n")
    ini(pytester, "xaio_app = webapp:create_app()", "xaio_postgres = none")
    pytester.makepyfile(TWO_TESTS)
    assert_usage_error(pytester.runpytest(), "*calling create_app() raised ValueError: no config*")


def test_no_app_configured(pytester: pytest.Pytester) -> None:
    ini(pytester, "xaio_postgres = none")
    pytester.makepyfile(TWO_TESTS)
    assert_usage_error(
        pytester.runpytest(), "*a test needs the app, but no app is configured*", "*fix: set xaio_app = *"
    )


def test_a_wrong_db_dependency(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(webapp=APP)
    ini(pytester, "xaio_app = webapp:app", "xaio_db_dependency = webapp:get_session")
    pytester.makepyfile(TWO_TESTS)
    assert_usage_error(pytester.runpytest(), "*xaio_db_dependency 'webapp:get_session'*no attribute 'get_session'*")


def test_app_from_the_command_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(webapp=APP)
    ini(pytester, "xaio_postgres = none")
    pytester.makepyfile("def test_a(xaio_anon_client): assert xaio_anon_client.get('/env').json()")
    pytester.runpytest("--xaio-app", "webapp:app").assert_outcomes(passed=1)


def test_resolve_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XAIO_RESOLVE_ME", "value")
    assert resolve_object("os:environ.XAIO_RESOLVE_ME") == "value"
    assert resolve_object("os.path:join") is os.path.join
    assert resolve_object("os:getcwd()") == os.getcwd()
    with pytest.raises(XaioConfigError, match=r"is not of the form package\.module:attribute"):
        resolve_object("os.path.join", setting="xaio_db_dependency")
