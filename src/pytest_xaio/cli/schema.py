"""A model of the app's tables read from its migrations, without a database.

``xaio init`` needs the tables a migration creates, the columns a user row must fill, and the
CHECK constraints and enum types worth a test. It reads them from ``V*__*.sql`` files (a small
statement reader for the DDL such files contain); :mod:`pytest_xaio.cli.alembic_schema` fills the
same model from Alembic revisions. What it cannot read is skipped, not guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pytest_xaio.db.checkexpr import split_top_level
from pytest_xaio.migrations.sqlsplit import statements_without_comments

__all__ = ["Check", "Column", "Schema", "Table", "read_sql_files", "split_top_level"]


@dataclass
class Column:
    name: str
    type: str
    not_null: bool = False
    has_default: bool = False
    references: str | None = None


@dataclass
class Check:
    table: str
    name: str
    expression: str
    source: str


@dataclass
class Table:
    name: str
    columns: dict[str, Column] = field(default_factory=dict)
    checks: dict[str, Check] = field(default_factory=dict)
    source: str = ""


@dataclass
class Schema:
    tables: dict[str, Table] = field(default_factory=dict)
    enums: dict[str, list[str]] = field(default_factory=dict)
    created_by: dict[str, list[str]] = field(default_factory=dict)  # migration file -> tables it created

    def enum_columns(self) -> list[tuple[Table, Column, list[str]]]:
        found = []
        for table in self.tables.values():
            for column in table.columns.values():
                values = self.enums.get(_unqualify(column.type))
                if values:
                    found.append((table, column, values))
        return found


# --- SQL ----------------------------------------------------------------------------------------
def read_sql_files(files: list[Path]) -> Schema:
    schema = Schema()
    for path in files:
        for statement in statements_without_comments(path.read_text(encoding="utf-8", errors="replace")):
            _apply_statement(schema, statement, path.name)
    return schema


_IDENT = r'(?:"[^"]+"|[A-Za-z_][\w$]*)(?:\.(?:"[^"]+"|[A-Za-z_][\w$]*))?'
_CREATE_TABLE = re.compile(
    rf"^CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?(?:UNLOGGED\s+|TEMP(?:ORARY)?\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    rf"({_IDENT})\s*\(",
    re.IGNORECASE | re.DOTALL,
)
_ALTER_TABLE = re.compile(
    rf"^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?({_IDENT})\s+(.*)$", re.IGNORECASE | re.DOTALL
)
_DROP_TABLE = re.compile(
    r"^DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(.*?)(?:\s+(?:CASCADE|RESTRICT))?$", re.IGNORECASE | re.DOTALL
)
_CREATE_ENUM = re.compile(rf"^CREATE\s+TYPE\s+({_IDENT})\s+AS\s+ENUM\s*\((.*)\)$", re.IGNORECASE | re.DOTALL)
_ALTER_ENUM = re.compile(
    rf"^ALTER\s+TYPE\s+({_IDENT})\s+ADD\s+VALUE\s+(?:IF\s+NOT\s+EXISTS\s+)?'((?:[^']|'')*)'", re.IGNORECASE
)
_DROP_TYPE = re.compile(
    r"^DROP\s+TYPE\s+(?:IF\s+EXISTS\s+)?(.*?)(?:\s+(?:CASCADE|RESTRICT))?$", re.IGNORECASE | re.DOTALL
)
_CONSTRAINT_WORDS = ("CONSTRAINT", "CHECK", "PRIMARY", "UNIQUE", "FOREIGN", "EXCLUDE", "LIKE")
_TYPE_END = re.compile(
    r"\s(?:NOT|NULL|DEFAULT|CHECK|REFERENCES|PRIMARY|UNIQUE|CONSTRAINT|GENERATED|COLLATE)\b", re.IGNORECASE
)


def _apply_statement(schema: Schema, sql: str, source: str) -> None:
    m = _CREATE_TABLE.match(sql)
    if m:
        name = _unqualify(m.group(1))
        body, _ = _parenthesized(sql, m.end() - 1)
        table = Table(name, source=source)
        schema.tables[name] = table
        schema.created_by.setdefault(source, []).append(name)
        for element in split_top_level(body, ","):
            _table_element(table, element, source)
        return
    m = _ALTER_TABLE.match(sql)
    if m:
        altered = schema.tables.get(_unqualify(m.group(1)))
        if altered is not None:
            for action in split_top_level(m.group(2), ","):
                _alter_action(schema, altered, action.strip(), source)
        return
    m = _DROP_TABLE.match(sql)
    if m:
        for name in split_top_level(m.group(1), ","):
            schema.tables.pop(_unqualify(name.strip()), None)
        return
    m = _CREATE_ENUM.match(sql)
    if m:
        schema.enums[_unqualify(m.group(1))] = _string_list(m.group(2))
        return
    m = _ALTER_ENUM.match(sql)
    if m:
        schema.enums.setdefault(_unqualify(m.group(1)), []).append(m.group(2).replace("''", "'"))
        return
    m = _DROP_TYPE.match(sql)
    if m:
        for name in split_top_level(m.group(1), ","):
            schema.enums.pop(_unqualify(name.strip()), None)


def _table_element(table: Table, element: str, source: str) -> None:
    element = element.strip()
    first = element.split(None, 1)[0].upper() if element else ""
    if first in _CONSTRAINT_WORDS:
        _table_constraint(table, element, source)
    elif element:
        _add_column(table, element, source)


def _table_constraint(table: Table, element: str, source: str) -> None:
    name = None
    m = re.match(rf"CONSTRAINT\s+({_IDENT})\s+(.*)$", element, re.IGNORECASE | re.DOTALL)
    if m:
        name, element = _unqualify(m.group(1)), m.group(2)
    m = re.match(r"CHECK\s*\(", element, re.IGNORECASE)
    if m:
        expression, _ = _parenthesized(element, m.end() - 1)
        column = next(iter(_words(expression) & set(table.columns)), "x")
        name = name or f"{table.name}_{column}_check"
        table.checks[name] = Check(table.name, name, expression.strip(), source)


def _add_column(table: Table, definition: str, source: str) -> None:
    parts = definition.split(None, 1)
    name = _unqualify(parts[0])
    rest = " " + (parts[1] if len(parts) > 1 else "")
    end = _TYPE_END.search(rest)
    type_ = (rest[: end.start()] if end else rest).strip().lower()
    upper = rest.upper()
    has_default = (
        " DEFAULT " in upper + " "
        or " GENERATED " in upper
        or type_ in ("serial", "bigserial", "smallserial", "serial4", "serial8")
    )
    ref = re.search(rf"\sREFERENCES\s+({_IDENT})", rest, re.IGNORECASE)
    table.columns[name] = Column(
        name,
        type_,
        not_null=bool(re.search(r"\sNOT\s+NULL\b|\sPRIMARY\s+KEY\b", rest, re.IGNORECASE)),
        has_default=has_default,
        references=_unqualify(ref.group(1)) if ref else None,
    )
    for m in re.finditer(rf"(?:CONSTRAINT\s+({_IDENT})\s+)?CHECK\s*\(", rest, re.IGNORECASE):
        expression, _ = _parenthesized(rest, m.end() - 1)
        check_name = _unqualify(m.group(1)) if m.group(1) else f"{table.name}_{name}_check"
        table.checks[check_name] = Check(table.name, check_name, expression.strip(), source)


def _alter_action(schema: Schema, table: Table, action: str, source: str) -> None:
    upper = action.upper()
    m = re.match(r"ADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(.*)$", action, re.IGNORECASE | re.DOTALL)
    if m:
        rest = m.group(1).strip()
        if rest.split(None, 1)[0].upper() in _CONSTRAINT_WORDS:
            _table_constraint(table, rest, source)
        elif not upper.startswith("ADD COLUMN") and rest.upper().startswith("TABLE"):
            return
        else:
            _add_column(table, rest, source)
        return
    m = re.match(rf"DROP\s+CONSTRAINT\s+(?:IF\s+EXISTS\s+)?({_IDENT})", action, re.IGNORECASE)
    if m:
        table.checks.pop(_unqualify(m.group(1)), None)
        return
    m = re.match(rf"DROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?({_IDENT})", action, re.IGNORECASE)
    if m:
        column = _unqualify(m.group(1))
        table.columns.pop(column, None)
        for name in [n for n, c in table.checks.items() if column in _words(c.expression)]:
            del table.checks[name]
        return
    m = re.match(rf"ALTER\s+(?:COLUMN\s+)?({_IDENT})\s+(.*)$", action, re.IGNORECASE | re.DOTALL)
    if m and _unqualify(m.group(1)) in table.columns:
        target = table.columns[_unqualify(m.group(1))]
        change = m.group(2).upper()
        if change.startswith("SET NOT NULL"):
            target.not_null = True
        elif change.startswith("DROP NOT NULL"):
            target.not_null = False
        elif change.startswith("SET DEFAULT"):
            target.has_default = True
        elif change.startswith("DROP DEFAULT"):
            target.has_default = False
        elif change.startswith(("TYPE", "SET DATA TYPE")):
            new_type = re.sub(r"^(SET\s+DATA\s+)?TYPE\s+", "", m.group(2), flags=re.IGNORECASE)
            target.type = re.split(r"\s+USING\s+", new_type, flags=re.IGNORECASE)[0].strip().lower()
        return
    m = re.match(rf"RENAME\s+(?:COLUMN\s+)?({_IDENT})\s+TO\s+({_IDENT})", action, re.IGNORECASE)
    if m and not upper.startswith("RENAME TO"):
        old, new = _unqualify(m.group(1)), _unqualify(m.group(2))
        if old in table.columns:
            table.columns[new] = table.columns.pop(old)
            table.columns[new].name = new
        return
    m = re.match(rf"RENAME\s+TO\s+({_IDENT})", action, re.IGNORECASE)
    if m:
        schema.tables.pop(table.name, None)
        table.name = _unqualify(m.group(1))
        schema.tables[table.name] = table


# --- helpers ------------------------------------------------------------------------------------
def _unqualify(name: str) -> str:
    last = re.split(r'\.(?=(?:[^"]*"[^"]*")*[^"]*$)', name.strip())[-1]
    return last.strip('"') if last.startswith('"') else last.lower()


def _parenthesized(text: str, open_index: int) -> tuple[str, int]:
    """The text inside the parenthesis opened at ``open_index`` and the index after it closes."""
    depth = 0
    i = open_index
    quote: str | None = None
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return text[open_index + 1 : i], i + 1
        i += 1
    return text[open_index + 1 :], len(text)


def _string_list(text: str) -> list[str]:
    return [m.replace("''", "'") for m in re.findall(r"'((?:[^']|'')*)'", text)]


def _words(expression: str) -> set[str]:
    without_strings = re.sub(r"'(?:[^']|'')*'", " ", expression)
    return {w.lower() for w in re.findall(r"[A-Za-z_][\w$]*", without_strings)} | {
        w for w in re.findall(r'"([^"]+)"', without_strings)
    }
