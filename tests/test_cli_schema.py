"""How `xaio init` reads migrations without a database: statements, tables, and constraint shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_xaio.cli.checks import constraint_cases
from pytest_xaio.cli.schema import Check, read_sql_files
from pytest_xaio.migrations.sqlsplit import statements_without_comments


def _schema(tmp_path: Path, *sql: str):  # type: ignore[no-untyped-def]
    files = []
    for i, text in enumerate(sql, 1):
        path = tmp_path / f"V{i:03d}__m{i}.sql"
        path.write_text(text)
        files.append(path)
    return read_sql_files(files)


def test_statements_keep_quotes_dollar_bodies_and_drop_comments() -> None:
    text = """
    -- a comment; with a semicolon
    INSERT INTO t VALUES ('a;b', 'it''s');
    /* block; comment */ CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;
    SELECT "odd;name" FROM t
    """
    assert statements_without_comments(text) == [
        "INSERT INTO t VALUES ('a;b', 'it''s')",
        "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
        'SELECT "odd;name" FROM t',
    ]


def test_tables_follow_alter_rename_and_drop(tmp_path: Path) -> None:
    schema = _schema(
        tmp_path,
        "CREATE TABLE IF NOT EXISTS public.accounts (id serial PRIMARY KEY, name varchar(20) NOT NULL, "
        "note text DEFAULT '', CONSTRAINT accounts_name_check CHECK (length(name) > 2));",
        "ALTER TABLE accounts ADD COLUMN status text NOT NULL DEFAULT 'new', "
        "ADD CONSTRAINT accounts_status_check CHECK (status IN ('new', 'done'));"
        "ALTER TABLE accounts DROP CONSTRAINT accounts_name_check;"
        "ALTER TABLE accounts RENAME COLUMN note TO remark;"
        "CREATE TABLE scratch (id int); DROP TABLE IF EXISTS scratch CASCADE;",
    )
    assert sorted(schema.tables) == ["accounts"]
    accounts = schema.tables["accounts"]
    assert list(accounts.columns) == ["id", "name", "status", "remark"]
    assert accounts.columns["name"].type == "varchar(20)"
    assert accounts.columns["name"].not_null
    assert accounts.columns["status"].has_default
    assert list(accounts.checks) == ["accounts_status_check"]
    assert schema.created_by == {"V001__m1.sql": ["accounts"], "V002__m2.sql": ["scratch"]}


def test_enums_grow_with_alter_type(tmp_path: Path) -> None:
    schema = _schema(
        tmp_path,
        "CREATE TYPE mood AS ENUM ('sad', 'ok'); CREATE TABLE p (m mood NOT NULL);",
        "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'happy';",
    )
    cases, unread = constraint_cases(schema)
    assert unread == []
    assert [(c.table, c.column, c.kind, c.allowed) for c in cases] == [("p", "m", "enum", ("sad", "ok", "happy"))]


@pytest.mark.parametrize(
    ("expression", "kind", "accepts", "rejects"),
    [
        ("status IN ('a', 'b')", "values", ("a", "b"), ("xaio-not-an-allowed-value",)),
        # what pg_dump writes for the same constraint
        (
            "((status)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[]))",
            "values",
            ("a", "b"),
            ("xaio-not-an-allowed-value",),
        ),
        ("status IS NULL OR status IN ('a')", "values", ("a",), ("xaio-not-an-allowed-value",)),
        ("n >= 0", "range", (0, 1), (-1,)),
        ("n > 0 AND n <= 10", "range", (1, 9, 10), (-1, 0, 11)),
        ("n BETWEEN 1 AND 5", "range", (1, 5), (0, 6)),
        ("char_length(n) <= 3", "length", ("xx", "xxx"), ("xxxx",)),
        ("n <> ''", "length", ("x",), ("",)),
    ],
)
def test_constraint_shapes(
    tmp_path: Path, expression: str, kind: str, accepts: tuple[object, ...], rejects: tuple[object, ...]
) -> None:
    schema = _schema(tmp_path, f"CREATE TABLE t (status text, n int, CHECK ({expression}));")
    if kind == "length":
        schema = _schema(tmp_path, f"CREATE TABLE t (n text, CHECK ({expression}));")
    (case,), unread = constraint_cases(schema)
    assert unread == []
    assert (case.kind, case.accepts, case.rejects) == (kind, accepts, rejects)


@pytest.mark.parametrize("expression", ["a > 0 OR b > 0", "lower(email) = email", "a > b", "a IN (1, 2)"])
def test_shapes_it_does_not_read_are_reported(tmp_path: Path, expression: str) -> None:
    schema = _schema(tmp_path, f"CREATE TABLE t (a int, b int, email text, CHECK ({expression}));")
    cases, unread = constraint_cases(schema)
    assert cases == []
    assert [c.expression for c in unread] == [expression]


def test_pattern_checks_give_other_tests_a_base_row(tmp_path: Path) -> None:
    schema = _schema(
        tmp_path,
        "CREATE TABLE vars (key text NOT NULL CHECK (key ~ '^[A-Z_][A-Z0-9_]*$'), "
        "env text NOT NULL CHECK (env IN ('prod', 'dev')));",
    )
    (case,), unread = constraint_cases(schema)
    assert [c.expression for c in unread] == ["key ~ '^[A-Z_][A-Z0-9_]*$'"]
    assert case.column == "env"
    assert case.base_row == (("key", "XAIO_TEST"),)


def test_check_dataclass_keeps_its_source() -> None:
    check = Check("t", "t_a_check", "a > 0", "V001__x.sql")
    assert check.source == "V001__x.sql"
