"""The migration splitter: statements and the line each starts on, whatever the quoting."""

from __future__ import annotations

from pytest_xaio.migrations.sqlsplit import split_statements, statements_without_comments


def test_lines_and_statements() -> None:
    script = "-- header\nCREATE TABLE a (id int);\n\nALTER TABLE a\n  ADD COLUMN b int;\n"
    assert split_statements(script) == [(2, "CREATE TABLE a (id int);"), (4, "ALTER TABLE a\n  ADD COLUMN b int;")]


def test_semicolons_inside_quotes_comments_and_dollar_quotes_do_not_split() -> None:
    script = (
        "INSERT INTO t VALUES ('a;b', 'it''s;');\n"
        'CREATE TABLE "we;ird" (x int);\n'
        "/* block; comment */\n"
        "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;\n"
        "DO $$ BEGIN PERFORM 1; END $$;\n"
        "SELECT 1 -- trailing; comment\n;"
    )
    got = split_statements(script)
    assert [line for line, _ in got] == [1, 2, 4, 5, 6]
    assert got[2][1].startswith("CREATE FUNCTION")
    assert got[2][1].endswith("LANGUAGE sql;")


def test_last_statement_without_semicolon_and_empty_scripts() -> None:
    assert split_statements("SELECT 1") == [(1, "SELECT 1")]
    assert split_statements("-- only a comment\n\n;\n") == []


def test_statements_without_comments_keep_quoted_comment_markers() -> None:
    script = "INSERT INTO t VALUES ('-- not a comment', '/* nor this */'); -- gone\n/* gone */ SELECT $$ -- kept $$;\n"
    assert statements_without_comments(script) == [
        "INSERT INTO t VALUES ('-- not a comment', '/* nor this */')",
        "SELECT $$ -- kept $$",
    ]
