"""The test files ``xaio init`` writes, rendered from what :mod:`pytest_xaio.cli.inspect` found.

Generated code must pass ``ruff check`` under a project's own settings: imports sorted and used,
short lines, double quotes.
"""

from __future__ import annotations

import json
import re

from pytest_xaio.cli.checks import ConstraintCase, Value
from pytest_xaio.cli.inspect import ProjectInfo
from pytest_xaio.cli.schema import Column, Table

__all__ = ["render_conftest", "render_constraints", "render_endpoints", "render_migrations"]

_HEADER = "Written by `xaio init`; yours to edit."
_USER_TABLES = ("users", "user", "accounts", "app_users", "auth_users", "user_account", "user_accounts")
_TEXT = re.compile(r"^(text|citext|varchar|character varying|char|character|string|autostring)\b")
_TRUE_FLAGS = re.compile(r"^(is_)?(active|enabled|verified|email_verified|confirmed)$")
_INT = re.compile(r"^(integer|int|int2|int4|int8|bigint|smallint|numeric|decimal|real|double precision)\b")


def _lit(value: Value | bool) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)


def _seq(
    values: list[str] | tuple[Value, ...], indent: str, opener: str = "[", closer: str = "]", before: int = 0
) -> str:
    """A literal list, on one line when it fits in 88 columns after ``before`` characters."""
    items = [_lit(v) for v in values]
    one_line = opener + ", ".join(items) + (closer if len(items) != 1 or opener != "(" else "," + closer)
    if before + len(one_line) + 1 <= 88:
        return one_line
    inner = "".join(f"{indent}    {item},\n" for item in items)
    return f"{opener}\n{inner}{indent}{closer}"


def render_endpoints(webhooks: list[str] | None = None) -> str:
    marker = "@pytest.mark.endpoint_matrix"
    if webhooks:
        # A webhook answers only a correctly signed payload, a login form only a real password.
        marker = (
            f"# Left out: webhooks need a signed payload, a login form a real user's password.\n"
            f"@pytest.mark.endpoint_matrix(exclude={_seq(webhooks, '', '[', ']', 38)})"
        )
    return f'''"""The endpoint matrix: one case per route and expected status.

{_HEADER} `pytest --collect-only -q` lists the cases;
`-k 401` selects one kind.
"""

import pytest


{marker}
def test_endpoints(case):
    response = case.call()
    case.validate(response)
'''


def render_migrations(info: ProjectInfo) -> str | None:
    if not info.versions:
        return None
    head, previous, head_file = info.versions[-1]
    tables = sorted(info.schema.tables)
    created = sorted(t for t in info.schema.created_by.get(head_file, []) if t in info.schema.tables)
    can_undo = previous is not None and (info.migration_kind == "alembic" or head in info.undo_files)
    out = [
        f'"""Migration tests: upgrade to head, and undo the newest migration.\n\n{_HEADER} Each test '
        'runs in a scratch\ndatabase of its own, never the shared template.\n"""\n',
        f"HEAD = {_lit(head)}  # {head_file}",
    ]
    if can_undo:
        out.append(f"PREVIOUS = {_lit(str(previous))}")
    out.append(f"TABLES = {_seq(tables, '')}")
    if can_undo:
        out.append(f"CREATED_BY_HEAD = {_seq(created, '')}")
    out.append("""

def test_upgrade_to_head(xaio_migrations):
    xaio_migrations.upgrade(to=HEAD)
    for table in TABLES:
        assert xaio_migrations.table_exists(table), table""")
    if can_undo:
        out.append("""

def test_head_migration_rolls_back(xaio_migrations):
    xaio_migrations.upgrade(to=HEAD)
    xaio_migrations.downgrade(to=PREVIOUS)
    for table in CREATED_BY_HEAD:
        assert not xaio_migrations.table_exists(table), table
    xaio_migrations.upgrade(to=HEAD)
    for table in CREATED_BY_HEAD:
        assert xaio_migrations.table_exists(table), table""")
    return "\n".join(out) + "\n"


def render_constraints(cases: list[ConstraintCase]) -> str | None:
    if not cases:
        return None
    helpers: set[str] = set()
    bodies: list[str] = []
    used: set[str] = set()
    for case in cases:
        name = re.sub(r"\W+", "_", f"test_{case.table}_{case.column}_{case.kind}").lower()
        base, n = name, 2
        while name in used:
            name, n = f"{base}_{n}", n + 1
        used.add(name)
        args = f'xaio_db, "{case.table}", "{case.column}"'
        lines = [f"def {name}(xaio_db):", f'    """{_docstring(case.description)}\n\n    From {case.source}.\n    """']
        if case.base_row and (case.accepts or case.rejects):
            # Other columns of this table have pattern CHECKs: give the inserted rows matching values.
            prefix = "    base_row = "
            lines.append(prefix + "{" + ", ".join(f"{_lit(k)}: {_lit(v)}" for k, v in case.base_row) + "}")
        if case.kind in ("values", "enum"):
            helpers.add("allowed_values")
            prefix = f"    assert set(allowed_values({args})) == "
            lines.append(prefix + _seq(sorted(case.allowed), "    ", "{", "}", len(prefix)))
        for helper, values in (("assert_accepts", case.accepts), ("assert_rejects", case.rejects)):
            if not values:
                continue
            base = ", base_row=base_row" if case.base_row else ""
            helpers.add(helper)
            if case.kind == "length":  # "x" * 41 reads better than the string itself
                lines.append(f"    for length in {_seq(tuple(len(str(v)) for v in values), '    ', '(', ')', 18)}:")
                lines.append(_call("        ", helper, f'{args}, "x" * length{base}'))
            elif len(values) == 1:
                lines.append(_call("    ", helper, f"{args}, {_lit(values[0])}{base}"))
            else:
                lines.append(f"    for value in {_seq(values, '    ', '(', ')', 17)}:")
                lines.append(_call("        ", helper, f"{args}, value{base}"))
        bodies.append("\n".join(lines))
    head = (
        '"""Constraint tests: one per CHECK constraint and enum column in the migrations.\n\n'
        f'{_HEADER} Rows go through the test\'s own transaction, so\nnothing stays behind.\n"""\n\n'
        f"from pytest_xaio.db import {', '.join(sorted(helpers))}\n"
    )
    return head + "".join(f"\n\n{body}\n" for body in bodies)


def _call(indent: str, function: str, args: str) -> str:
    line = f"{indent}{function}({args})"
    return line if len(line) <= 88 else f"{indent}{function}(\n{indent}    {args}\n{indent})"


def _docstring(text: str) -> str:
    text = " ".join(text.replace("\\", "\\\\").replace('"""', "'''").split())
    return text if len(text) <= 80 else text[:77] + "..."


def user_table(info: ProjectInfo) -> Table | None:
    for name in _USER_TABLES:
        if name in info.schema.tables:
            return info.schema.tables[name]
    return None


def render_conftest(info: ProjectInfo, notes: list[str]) -> str:
    doc = f'"""Fixtures and pytest-xaio hooks for this project\'s tests.\n\n{_HEADER}\n"""\n'
    table = user_table(info)
    if table is None:
        notes.append(
            "no users table in the migrations: tests/conftest.py has no pytest_xaio_create_user "
            "hook, so tokens carry a fixed sub and no user row is made"
        )
        return doc
    values: list[str] = []
    imports: set[str] = set()
    for column in table.columns.values():
        value = _user_value(info, table, column, notes)
        if value is not None:
            values.append(f"        {_lit(column.name)}: {value},")
            imports.update(m for m in ("datetime", "uuid") if f"{m}." in value)
    stdlib = "".join(f"import {m}\n" for m in sorted(imports))
    return f'''{doc}
from __future__ import annotations

{stdlib}from typing import Any

from psycopg import sql


def pytest_xaio_create_user(db: Any, attrs: dict[str, Any]) -> Any:
    """Insert the user a test's token stands for; the token's ``sub`` is its id.

    ``db`` is ``xaio_db``: a psycopg connection, or its stand-in on an async app's
    connection (the rows land in the transaction the app's sessions join).
    """
    values = {{
{"".join(v + chr(10) for v in values)}        **attrs,
    }}
    query = sql.SQL("INSERT INTO {{}} ({{}}) VALUES ({{}}) RETURNING *").format(
        sql.Identifier({_lit(table.name)}),
        sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(sql.Placeholder() * len(values)),
    )
    cur = db.execute(query, list(values.values()))
    row = dict(zip([c[0] for c in cur.description], cur.fetchone(), strict=True))
    {_returned_row(table)}
'''


def _returned_row(table: Table) -> str:
    """The hook's return: the row, with ``id`` (the token's ``sub``) when the key is ``user_id``-style."""
    if "id" in table.columns:
        return "return row"
    key = next((c.name for c in table.columns.values() if c.name.endswith("_id") and not c.references), None)
    if key is None:
        return "return row"
    return f"return {{**row, \"id\": row[{_lit(key)}]}}  # the token's sub is the user's key"


def _user_value(info: ProjectInfo, table: Table, column: Column, notes: list[str]) -> str | None:
    """A Python expression for a column a new user row must fill, or None when it needs nothing."""
    name, type_ = column.name, column.type
    if "email" in name and (_TEXT.match(type_) or not type_):
        return 'f"user-{uuid.uuid4().hex[:12]}@example.com"'
    if not column.not_null or column.has_default:
        return None
    enum = info.schema.enums.get(type_)
    allowed = [
        c for c in table.checks.values() if re.search(rf"\b{re.escape(name)}\b\s+IN\s*\(", c.expression, re.IGNORECASE)
    ]
    if column.references:
        notes.append(
            f"users.{name} must reference a {column.references} row: add it to the "
            "pytest_xaio_create_user hook in tests/conftest.py"
        )
        return None
    if enum:
        return _lit(enum[0])
    if allowed:
        first = re.findall(r"'((?:[^']|'')*)'", allowed[0].expression)
        return _lit(first[0]) if first else None
    if _TEXT.match(type_):
        return f'f"{name}-{{uuid.uuid4().hex[:8]}}"'
    if type_.startswith("uuid"):
        return "uuid.uuid4()"
    if type_.startswith("bool"):
        return "True" if _TRUE_FLAGS.match(name) else "False"  # an inactive user is refused by most apps
    if _INT.match(type_):
        return "0"
    if type_.startswith(("timestamp", "date")):
        return "datetime.datetime.now(datetime.timezone.utc)"
    notes.append(
        f"users.{name} ({type_}) is required and has no default: give it a value in the "
        "pytest_xaio_create_user hook in tests/conftest.py"
    )
    return None
