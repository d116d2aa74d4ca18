"""xaio_migration_checks = true: generated check items for SQL-file and Alembic migrations."""

from __future__ import annotations

import alembic.command  # noqa: F401
import pytest
import sqlalchemy  # noqa: F401
from fixtures_db import make_project

# alembic and sqlalchemy are imported here, in the outer process, on purpose: in-process pytester
# runs drop the modules they imported, and a second import of sqlalchemy mixes class identities.

PLAIN = "def test_app(): pass\n"


def test_sql_checks_pass_with_their_ids(pytester: pytest.Pytester) -> None:
    make_project(pytester, "sql", "xaio_migration_checks = true")
    pytester.makepyfile(PLAIN)
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(
        [
            "*xaio-migrations::single-head PASSED*",
            "*xaio-migrations::upgrade-from-empty PASSED*",
            "*xaio-migrations::round-trip[[]V001[]] PASSED*",
            "*xaio-migrations::round-trip[[]V002[]] PASSED*",
            "*xaio-migrations::round-trip[[]V003[]] PASSED*",
        ]
    )


def test_checks_are_off_by_default(pytester: pytest.Pytester) -> None:
    make_project(pytester, "sql")
    pytester.makepyfile(PLAIN)
    pytester.runpytest().assert_outcomes(passed=1)


def test_sql_checks_name_the_migration_that_fails(pytester: pytest.Pytester) -> None:
    folder = make_project(pytester, "sql", "xaio_migration_checks = true")
    (folder / "V004__add_source.sql").write_text("ALTER TABLE waitlist ADD COLUMN source text;\n")
    (folder / "U004__add_source.sql").write_text("SELECT 1;\n")  # forgets to drop the column
    (folder / "V006__add_ref.sql").write_text("ALTER TABLE waitlist ADD COLUMN ref text;\n")
    (folder / "U006__add_ref.sql").write_text("ALTER TABLE waitlist DROP COLUMN ref;\n")
    pytester.makepyfile(PLAIN)
    result = pytester.runpytest("-v", "-p", "no:randomly")
    result.assert_outcomes(passed=6, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*xaio-migrations::single-head FAILED*",
            "*xaio-migrations::round-trip[[]V004[]] FAILED*",
            "*xaio-migrations::round-trip[[]V006[]] PASSED*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "single-head: versions are missing between the first and the last migration: 005",
            "round-trip[[]V004[]]: undoing V004 does not restore the schema before it:",
            "  +column public.waitlist.source text null default None",
        ]
    )


def test_timestamp_versions_are_not_gaps(pytester: pytest.Pytester) -> None:
    (pytester.path / "migrations").mkdir()
    (pytester.path / "migrations" / "V20240101093000__users.sql").write_text("CREATE TABLE users (id int);\n")
    (pytester.path / "migrations" / "V20240315120000__more.sql").write_text("ALTER TABLE users ADD c int;\n")
    pytester.makeini("[pytest]\nxaio_migrations = migrations\nxaio_migration_checks = true\n")
    pytester.makepyfile(test_app=PLAIN)
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*xaio-migrations::single-head PASSED*"])


def test_a_broken_migration_fails_upgrade_from_empty(pytester: pytest.Pytester) -> None:
    folder = make_project(pytester, "sql", "xaio_migration_checks = true")
    (folder / "V004__broken.sql").write_text("ALTER TABLE waitlist ADD COLUMN source tex;\n")
    pytester.makepyfile(test_app=PLAIN)
    result = pytester.runpytest("-v", "-k", "upgrade")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "upgrade-from-empty: V004 (V004__broken.sql) fails on a database migrated to the version before it:",
            '  *V004__broken.sql:1: type "tex" does not exist (SQLSTATE 42704)',
        ]
    )


@pytest.mark.slow
def test_alembic_checks_pass(pytester: pytest.Pytester) -> None:
    make_project(pytester, "alembic", "xaio_migration_checks = true")
    pytester.makepyfile(PLAIN)
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(
        [
            "*xaio-migrations::single-head PASSED*",
            "*xaio-migrations::upgrade-from-empty PASSED*",
            "*xaio-migrations::round-trip[[]a001[]] PASSED*",
            "*xaio-migrations::round-trip[[]a002[]] PASSED*",
            "*xaio-migrations::models-match PASSED*",
        ]
    )


def test_alembic_checks_find_two_heads_and_models_drift(pytester: pytest.Pytester) -> None:
    folder = make_project(pytester, "alembic", "xaio_migration_checks = true")
    models = folder / "models.py"
    models.write_text(
        models.read_text().replace(
            'sa.Column("email", sa.Text, nullable=False, unique=True),',
            'sa.Column("email", sa.Text, nullable=False, unique=True),\n    sa.Column("name", sa.Text),',
            1,
        )
    )
    (folder / "migrations" / "versions" / "a003_other.py").write_text(
        'revision = "a003"\ndown_revision = "a001"\n\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n'
    )
    pytester.makepyfile(test_app=PLAIN)
    result = pytester.runpytest("-v", "-k", "single or models")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "single-head: Alembic has 2 heads: * (a00*.py), * (a00*.py); run `alembic merge heads`",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "models-match: the models and the migrations disagree (autogenerate would write a new revision):",
            "  add_column users name TEXT",
        ]
    )


def test_checks_without_migrations_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nxaio_migration_checks = true\n")
    pytester.makepyfile(PLAIN)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*xaio_migration_checks is on, but xaio_migrations is not set*"])
