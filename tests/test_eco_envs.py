"""The plugin in real environments other than the dev venv: httpx2 with no httpx, and pytest 8.

Each runs a pytester project with another venv's interpreter (a subprocess, as a user's command
line is), built once and cached by tests/eco_venvs.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from app_projects import CLIENT_INI, SHOW_SETTINGS, TOML_VALUES, copy_app
from eco_venvs import ROOT, cached_venv, clean_env, has_module, pins

# Each test runs in a venv of its own, built on first use (20-35 s each here): the slow step of .ci/run.
pytestmark = pytest.mark.slow

ONE_LIBRARY = """
import pytest

def library(client):
    return next(c.__module__.split(".")[0] for c in type(client).__mro__ if c.__name__ in ("Client", "AsyncClient"))

def test_sync(xaio_client, xaio_user):
    assert library(xaio_client) == "httpx2"
    body = xaio_client.get("/me").json()
    assert body["user"]["email"] == xaio_user["email"]

@pytest.mark.{mark}
async def test_async(xaio_async_client, xaio_user):
    assert library(xaio_async_client) == "httpx2"
    response = await xaio_async_client.get("/me")
    assert response.status_code == 200
    assert response.json()["user"]["email"] == xaio_user["email"]

def test_no_httpx_here():
    import importlib.util
    assert importlib.util.find_spec("httpx") is None

def test_the_guard_and_the_fakes_hold_httpx2_calls(xaio_externals):
    import httpx2
    from fastapi import FastAPI

    partner = FastAPI()

    @partner.get("/v1/ping")
    async def ping():
        return {{"pong": True}}

    xaio_externals.add_fake("partner.example", partner)
    assert httpx2.get("https://partner.example/v1/ping").json() == {{"pong": True}}

def test_an_unfaked_httpx2_call_fails_the_test():
    import httpx2

    httpx2.get("https://api.unknown.example/")  # the guard refuses it and fails this test
"""

#: What the httpx2-only venv holds besides the plugin: the client stack, pinned to the dev venv's versions.
HTTPX2_STACK = [
    "httpx2",
    "fastapi",
    "starlette",
    "pydantic",
    "pyjwt",
    "sqlalchemy",
    "psycopg",
    "pytest",
    "pytest-asyncio",
    "anyio",
]


def _run(pytester: pytest.Pytester, python: Path, *args: str) -> pytest.RunResult:
    """``python -m pytest`` in the pytester folder, without this session's XAIO_*/PYTHON* settings."""
    kept = clean_env()
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n not in kept]:
            mp.delenv(name)
        mp.setenv("XAIO_REUSE_DB", "false")
        return pytester.run(str(python), "-m", "pytest", "-p", "no:cacheprovider", *args)


@pytest.fixture(scope="session")
def httpx2_only_python() -> Path:
    """A venv with pytest-xaio[fastapi], pytest-asyncio and anyio, httpx2 and no httpx at all."""
    pytest.importorskip("httpx2")
    python = cached_venv("httpx2-only", f"{ROOT}[fastapi]", pins(HTTPX2_STACK))
    assert not has_module(python, "httpx"), "something in the httpx2-only venv pulled in httpx"
    assert not has_module(python, "respx")
    assert has_module(python, "httpx2")
    return python


@pytest.mark.parametrize(
    ("mark", "args"),
    [("asyncio", ()), ("asyncio", ("-o", "asyncio_mode=auto")), ("anyio", ())],
    ids=["asyncio-strict", "asyncio-auto", "anyio"],
)
def test_httpx2_alone_serves_both_clients_under_w_error(
    pytester: pytest.Pytester, httpx2_only_python: Path, service_postgres_url: str, mark: str, args: tuple[str, ...]
) -> None:
    """Both clients are httpx2's, Starlette's TestClient runs on it, the fakes and the guard hold the
    app's own httpx2 calls, and nothing warns (-W error)."""
    copy_app(pytester, "client", CLIENT_INI + "xaio_mock_externals = true\n")
    pytester.makepyfile(test_one_library=ONE_LIBRARY.format(mark=mark))
    result = _run(pytester, httpx2_only_python, "-W", "error", "--xaio-postgres-url", service_postgres_url, *args)
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_an_unfaked_httpx2_call_fails_the_test*",
            "*blocked an outbound request: GET https://api.unknown.example/*",
        ]
    )


PYTEST8 = "8.3.5"  # the release .ci/run tests the pytest-8 conventions on

PYTEST_MAJOR_TEST = """
def test_pytest_major():
    import pytest
    assert pytest.__version__ == "{version}"
"""

INI_VALUES = """\
xaio_cov_threshold = 80
xaio_validation_status = 400
xaio_mock_externals = true
xaio_jwt_lifetime = 60
xaio_keep_tables = plans
"""


@pytest.fixture(scope="session")
def pytest8_python() -> Path:
    """A venv with pytest-xaio (core) on pytest 8."""
    return cached_venv("pytest8", str(ROOT), [f"pytest=={PYTEST8}"])


@pytest.mark.parametrize(
    ("filename", "text"),
    [
        ("pyproject.toml", "[tool.pytest.ini_options]\n" + TOML_VALUES),
        ("pytest.ini", "[pytest]\n" + INI_VALUES),
        ("setup.cfg", "[tool:pytest]\n" + INI_VALUES),
    ],
    ids=["ini_options-table", "pytest.ini", "setup.cfg"],
)
def test_ini_forms_on_pytest_8(pytester: pytest.Pytester, pytest8_python: Path, filename: str, text: str) -> None:
    """pytest 8 has no native [tool.pytest] table: the ini forms give the same typed settings, no warning."""
    (pytester.path / filename).write_text(text)
    pytester.makepyfile(SHOW_SETTINGS + PYTEST_MAJOR_TEST.format(version=PYTEST8))
    _run(pytester, pytest8_python, "-W", "error").assert_outcomes(passed=2)


def test_dash_p_no_xaio_on_pytest_8(pytester: pytest.Pytester, pytest8_python: Path) -> None:
    pytester.makeconftest("def pytest_xaio_create_user(db, attrs):\n    raise AssertionError('plugin is off')\n")
    pytester.makepyfile("def test_plain(): assert True")
    result = _run(pytester, pytest8_python, "-p", "no:xaio")
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1)
