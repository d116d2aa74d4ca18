"""A project's own pytest-postgresql process fixture handed to pytest-xaio as its server."""

from __future__ import annotations

import pytest

pytest.importorskip("pytest_postgresql")

CONFTEST = """
from pytest_postgresql import factories
from pytest_xaio.postgres.factories import server_from

postgresql_noproc = factories.postgresql_noproc(host="{host}", port={port}, user="postgres")
xaio_postgres = server_from("postgresql_noproc")
"""

TESTS = """
def test_server_is_the_fixtures(xaio_postgres, postgresql_noproc):
    assert xaio_postgres.provider == "pytest-postgresql:postgresql_noproc"
    assert (xaio_postgres.host, xaio_postgres.port) == (postgresql_noproc.host, postgresql_noproc.port)

def test_databases_are_made_there(xaio_db, xaio_database, xaio_postgres):
    xaio_db.execute("INSERT INTO projects (name) VALUES ('demo')")
    assert xaio_db.execute("SELECT count(*) FROM projects").fetchone() == (1,)
    assert xaio_db.execute("SELECT inet_server_port()").fetchone() == ({port},)
    assert xaio_database.name.startswith("xaio_")

def test_rolled_back(xaio_db):
    assert xaio_db.execute("SELECT count(*) FROM projects").fetchone() == (0,)
"""


def test_a_postgresql_noproc_fixture_is_the_server(pytester: pytest.Pytester, service_postgres_url: str) -> None:
    pytester.mkdir("migrations")
    (pytester.path / "migrations" / "V001__init.sql").write_text(
        "CREATE TABLE projects (id serial PRIMARY KEY, name text);"
    )
    pytester.makeini("[pytest]\nxaio_migrations = migrations\n")
    pytester.makeconftest(CONFTEST.format(host="127.0.0.1", port=5432))
    pytester.makepyfile(TESTS.format(port=5432))
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["xaio: postgres * pytest-postgresql:postgresql_noproc 127.0.0.1:5432, template *"])


def test_a_fixture_that_is_not_an_executor_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "import pytest\nfrom pytest_xaio.postgres.factories import server_from\n\n"
        "@pytest.fixture(scope='session')\ndef my_server():\n    return 'localhost:5432'\n\n"
        "xaio_postgres = server_from('my_server')\n"
    )
    pytester.makepyfile("def test_a(xaio_db): pass")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["*the fixture 'my_server' gave a str, not a pytest-postgresql executor*"])
