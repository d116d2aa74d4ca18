"""Bad configuration ends in one message that names the problem and the fix, never a traceback."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest


def _assert_usage_error(result: pytest.RunResult, *patterns: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.stdout.fnmatch_lines(list(patterns))
    assert "Traceback" not in result.stdout.str()


def test_unreachable_url(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(xaio_db): pass")
    result = pytester.runpytest("--xaio-postgres-url", "postgresql://postgres@127.0.0.1:1/postgres")
    _assert_usage_error(
        result,
        "*cannot connect to PostgreSQL at postgresql://postgres@127.0.0.1:1/postgres*",
        "*fix: start that server or fix the URL*",
    )


def test_password_is_redacted_in_messages(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(xaio_db): pass")
    result = pytester.runpytest("--xaio-postgres-url", "postgresql://app:hunter2@127.0.0.1:1/postgres")
    _assert_usage_error(result, "*postgresql://app:***@127.0.0.1:1/postgres*")
    assert "hunter2" not in result.stdout.str()


def test_remote_url_refused_without_opt_in(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(xaio_db): pass")
    result = pytester.runpytest("--xaio-postgres-url", "postgresql://postgres@db.example.com/postgres")
    _assert_usage_error(
        result, "*points at db.example.com, which is not this machine*", "*fix: pass --xaio-allow-remote*"
    )


def test_broken_migration_names_file_line_and_error(pytester: pytest.Pytester) -> None:
    pytester.mkdir("migrations")
    (pytester.path / "migrations" / "V001__ok.sql").write_text("CREATE TABLE a (id int);\n")
    (pytester.path / "migrations" / "V002__broken.sql").write_text(
        "-- adds a column\nALTER TABLE a ADD COLUMN b int;\nALTER TABLE nope ADD COLUMN c int;\n"
    )
    pytester.makeini("[pytest]\nxaio_migrations = migrations\n")
    pytester.makepyfile("def test_a(xaio_db): pass\ndef test_b(xaio_db): pass")
    result = pytester.runpytest()
    _assert_usage_error(
        result,
        '*migration failed: *V002__broken.sql:3: relation "nope" does not exist (SQLSTATE 42P01)*',
        "*fix: fix that migration*",
    )


def test_missing_migrations_folder(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nxaio_migrations = nowhere\n")
    pytester.makepyfile("def test_a(xaio_db): pass")
    _assert_usage_error(pytester.runpytest(), "*xaio_migrations points at *nowhere, which does not exist*")


def test_container_provider_without_docker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(xaio_db): pass")
    result = pytester.runpytest("--xaio-postgres", "container")
    _assert_usage_error(
        result,
        "*the container provider needs a Docker engine and none answered*",
        "*fix: start Docker, or pick another provider: --xaio-postgres=embedded*",
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="checks the refusal that only happens as root")
def test_local_provider_as_root(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(xaio_db): pass")
    result = pytester.runpytest("--xaio-postgres", "local")
    _assert_usage_error(result, "*PostgreSQL refuses to run as root*", "*fix: use the embedded provider*")


def test_provider_none_with_a_db_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(xaio_db): pass\ndef test_plain(): pass")
    result = pytester.runpytest("--xaio-postgres", "none")
    _assert_usage_error(result, "*a test asked for PostgreSQL but xaio_postgres is 'none'*")


def test_stale_server_of_a_crashed_run_is_recovered(
    pytester: pytest.Pytester, embedded_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = embedded_cache
    pytester.makeini(f"[pytest]\nxaio_cache_dir = {cache}\n")
    pytester.makepyfile(test_ok="def test_ok(xaio_db): assert xaio_db.execute('SELECT 1').fetchone() == (1,)")
    # A run that dies hard: its server is killed and the session never says goodbye.
    pytester.makepyfile(
        test_crash="""
        import os, signal
        def test_crash(xaio_postgres):
            data = next(p for p in os.environ["XAIO_CACHE_PATH"].split(":"))
            pid = int(open(data + "/postmaster.pid").readline())
            os.kill(pid, signal.SIGKILL)
            os._exit(0)
    """
    )
    pytester.runpytest_subprocess("test_ok.py").assert_outcomes(passed=1)
    data = next(cache.glob("embedded-pg*/data"))
    monkeypatch.setenv("XAIO_CACHE_PATH", str(data))
    pytester.runpytest_subprocess("test_crash.py")
    assert (data / "postmaster.pid").exists(), "the crash left no stale lock to recover from"
    time.sleep(0.5)
    result = pytester.runpytest_subprocess("test_ok.py")
    result.assert_outcomes(passed=1)
    assert not (data / "postmaster.pid").exists(), "the recovered server was not stopped at session end"
