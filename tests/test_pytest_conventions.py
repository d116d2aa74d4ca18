"""The plugin behaves as pytest users expect: -p no:xaio, typed ini keys, a quiet header, xdist summary.

Runs that depend on how pytest itself starts (plugin blocking, the config file format) are
subprocess runs, as a user's command line is. `.ci/run` runs this file under pytest 8 as well.
"""

from __future__ import annotations

import pytest
from app_projects import SHOW_SETTINGS, TOML_VALUES

PYTEST_MAJOR = int(pytest.__version__.split(".")[0])

CREATE_USER_CONFTEST = """
def pytest_xaio_create_user(db, attrs):
    raise AssertionError("never called with the plugin off")
"""


def test_dash_p_no_xaio_with_a_conftest_implementing_the_hooks(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CREATE_USER_CONFTEST + "\ndef pytest_xaio_payload(case):\n    return None\n")
    pytester.makepyfile("def test_plain(): assert 1 + 1 == 2")
    result = pytester.runpytest_subprocess("-p", "no:xaio")
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1)
    assert result.ret == 0


def test_hooks_still_run_with_the_plugin_on(pytester: pytest.Pytester) -> None:
    """The hookspec entry point and the plugin both register the specs; that must not clash."""
    pytester.makeconftest("def pytest_xaio_create_user(db, attrs):\n    return {'id': 41, **attrs}\n")
    pytester.makepyfile(
        "def test_user(xaio_user_factory):\n    assert xaio_user_factory(plan='pro') == {'id': 41, 'plan': 'pro'}\n"
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


TYPED_VALUES = 'asyncio_default_fixture_loop_scope = "function"\n' + TOML_VALUES


@pytest.mark.skipif(PYTEST_MAJOR < 9, reason="the native [tool.pytest] table is new in pytest 9")
def test_native_tool_pytest_table_takes_numbers_and_booleans(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.pytest]\n" + TYPED_VALUES)
    pytester.makepyfile(SHOW_SETTINGS)
    result = pytester.runpytest_subprocess("-W", "error")
    result.assert_outcomes(passed=1)


@pytest.mark.skipif(PYTEST_MAJOR < 9, reason="the native [tool.pytest] table is new in pytest 9")
def test_native_table_wrong_type_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """pytest checks the table's types against the registered ones and names the key."""
    pytester.makepyprojecttoml('[tool.pytest]\nxaio_cov_threshold = "eighty"\n')
    pytester.makepyfile("def test_x(xaio_settings): pass")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*config option 'xaio_cov_threshold' expects a float, got str: 'eighty'*"])
    assert "Traceback" not in result.stderr.str()


def test_ini_file_number_that_is_not_a_number_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nxaio_validation_status = teapot\n")
    pytester.makepyfile("def test_x(xaio_settings): pass")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *'teapot'*"])  # pytest's own check (8.4+), or ours before 8.4
    assert "Traceback" not in result.stderr.str()


def test_ini_options_table_takes_the_same_values(pytester: pytest.Pytester) -> None:
    """The classic table (pytest 8 and 9) reads TOML numbers and booleans too."""
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\n" + TYPED_VALUES)
    pytester.makepyfile(SHOW_SETTINGS)
    pytester.runpytest_subprocess("-W", "error").assert_outcomes(passed=1)


def test_setup_cfg_strings_are_coerced(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nxaio_cov_threshold = 80\nxaio_validation_status = 400\nxaio_mock_externals = true\n"
        "xaio_jwt_lifetime = 60\nxaio_keep_tables = plans\n"
    )
    pytester.makepyfile(SHOW_SETTINGS)
    pytester.runpytest().assert_outcomes(passed=1)


def test_no_header_for_a_project_that_does_not_use_the_plugin(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in __import__("os").environ if n.startswith("XAIO_")]:
        monkeypatch.delenv(name)  # the suite's own XAIO_* settings (cache dir, reuse) would count as use
    pytester.makepyfile("def test_plain(): pass")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "xaio:" not in result.stdout.str()


def test_header_when_the_project_configures_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nxaio_isolation = truncate\n")
    pytester.makepyfile("def test_plain(): pass")
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["xaio: postgres=auto isolation=truncate"])


def test_xdist_controller_prints_what_the_workers_used(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(4))
        def test_db(xaio_db, n):
            assert xaio_db.execute("SELECT 1").fetchone() == (1,)
        """
    )
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["xaio: postgres * embedded 127.0.0.1:*, template * (hash *) [[]gw*[]]"])
    summary = [line for line in result.stdout.lines if line.startswith("xaio: postgres ")]
    # One line per distinct report (one worker may build the template the other finds cached),
    # each naming its workers; no worker's line printed twice.
    workers = [w for line in summary for w in line.rsplit("[", 1)[1].rstrip("]").split(", ")]
    assert sorted(workers) == sorted(set(workers)), summary
    assert set(workers) <= {"gw0", "gw1"}, summary


ALEMBIC = __import__("pathlib").Path(__file__).parent / "fixtures_db" / "alembic"

ALEMBIC_LOGGING_INI = """
[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console
qualname =

[logger_sqlalchemy]
level = WARN
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""


def test_alembic_log_lines_stay_out_of_pytest_output(pytester: pytest.Pytester) -> None:
    """A stock env.py calls fileConfig(alembic.ini): its INFO lines must not reach the terminal, and
    the app's loggers must not be switched off by it."""
    import shutil

    shutil.copytree(ALEMBIC, pytester.path / "alembic")
    # A revision of its own, so the template is built here and not taken from the cache.
    revision = pytester.path / "alembic" / "migrations" / "versions" / "a002_waitlist.py"
    revision.write_text(revision.read_text() + f"\n# {__import__('uuid').uuid4()}\n")
    ini = pytester.path / "alembic" / "alembic.ini"
    ini.write_text(ini.read_text() + ALEMBIC_LOGGING_INI)
    env = pytester.path / "alembic" / "migrations" / "env.py"
    env.write_text(
        "from logging.config import fileConfig\nfrom alembic import context\n"
        "if context.config.config_file_name is not None:\n    fileConfig(context.config.config_file_name)\n"
        + env.read_text()
    )
    pytester.makeini("[pytest]\nxaio_migrations = alembic/alembic.ini\n")
    pytester.makepyfile(
        """
        import logging

        log = logging.getLogger("myapp.billing")  # exists before the template is built

        def test_migrated(xaio_db, caplog):
            assert xaio_db.execute("SELECT to_regclass('waitlist') IS NOT NULL").fetchone() == (True,)
            log.warning("still heard")
            assert [r.getMessage() for r in caplog.records] == ["still heard"]
        """
    )
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    output = result.stdout.str() + result.stderr.str()
    assert "[alembic" not in output, output
    assert "Running upgrade" not in output, output
