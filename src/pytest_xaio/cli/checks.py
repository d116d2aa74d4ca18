"""Turn a CHECK constraint or an enum column into values a test can insert: accepted and rejected.

Only shapes whose meaning is certain are read: a list of allowed values (``IN (...)``,
``= ANY (ARRAY[...])``, an enum type), comparisons of a column with a number, ``BETWEEN``, and the
length of a text column. A constraint in any other shape is reported, not guessed at.
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from pytest_xaio.cli.schema import Check, Schema, split_top_level

__all__ = ["ConstraintCase", "constraint_cases"]

Value = int | float | str


@dataclass(frozen=True)
class ConstraintCase:
    table: str
    column: str
    kind: str  # "values" (a CHECK list), "enum", "range" or "length"
    allowed: tuple[str, ...]
    accepts: tuple[Value, ...]
    rejects: tuple[Value, ...]
    description: str
    source: str
    base_row: tuple[tuple[str, str], ...] = ()  # values other columns' pattern CHECKs need


_NUMBER = r"-?\d+(?:\.\d+)?"
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "<>": operator.ne,
    "!=": operator.ne,
}
_REJECTED_TEXT = "xaio-not-an-allowed-value"


def constraint_cases(schema: Schema) -> tuple[list[ConstraintCase], list[Check]]:
    """Cases for every CHECK and enum column that can be read, and the CHECKs that could not."""
    cases: list[ConstraintCase] = []
    unread: list[Check] = []
    for table in schema.tables.values():
        for check in table.checks.values():
            case = _analyse(check, set(table.columns))
            if case is None:
                unread.append(check)
            else:
                cases.append(case)
    for table, column, values in schema.enum_columns():
        cases.append(
            ConstraintCase(
                table.name,
                column.name,
                "enum",
                tuple(values),
                tuple(values),
                (),
                f"enum {column.type} ({', '.join(values)})",
                table.source,
            )
        )
    patterns = _pattern_values(unread)
    return [
        dataclasses.replace(
            c, base_row=tuple((col, v) for col, v in sorted(patterns.get(c.table, {}).items()) if col != c.column)
        )
        for c in cases
    ], unread


_CANDIDATES = (
    "XAIO_TEST",
    "xaio",
    "xaio-test",
    "xaio_test",
    "owner/repo",
    "user@example.com",
    "x",
    "X",
    "1",
    "https://example.com",
)


def _pattern_values(checks: list[Check]) -> dict[str, dict[str, str]]:
    """For ``column ~ 'pattern'`` CHECKs, a value that matches, so rows made for other tests pass them."""
    found: dict[str, dict[str, str]] = {}
    for check in checks:
        m = re.fullmatch(r"(\w+)\s*(~\*?)\s*'((?:[^']|'')*)'", _clean(check.expression))
        if not m:
            continue
        try:
            pattern = re.compile(m.group(3).replace("''", "'"), re.IGNORECASE if m.group(2) == "~*" else 0)
        except re.error:
            continue
        value = next((c for c in _CANDIDATES if pattern.search(c)), None)
        if value is not None:
            found.setdefault(check.table, {})[m.group(1).lower()] = value
    return found


def _clean(expression: str) -> str:
    expr = re.sub(r"::[\w ]+(?:\[\])?", "", expression).strip()
    expr = re.sub(r"(?<!\w)\((\w+)\)", r"\1", expr)  # (status) = ANY (...), as pg_dump writes it
    while expr.startswith("(") and _outer_parens(expr):
        expr = expr[1:-1].strip()
    return re.sub(r'"(\w+)"', r"\1", expr)


def _outer_parens(expr: str) -> bool:
    depth = 0
    for i, ch in enumerate(expr):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i < len(expr) - 1:
            return False
    return expr.endswith(")")


def _analyse(check: Check, columns: set[str]) -> ConstraintCase | None:
    expr = _clean(check.expression)
    nullable = re.match(r"^(\w+)\s+IS\s+NULL\s+OR\s+(.*)$", expr, re.IGNORECASE | re.DOTALL)
    if nullable:
        expr = _clean(nullable.group(2))
    described = f"CHECK ({' '.join(check.expression.split())})"
    listed = re.match(r"^(\w+)\s+IN\s*\((.*)\)$", expr, re.IGNORECASE | re.DOTALL) or re.match(
        r"^(\w+)\s*=\s*ANY\s*\(\s*\(?\s*ARRAY\s*\[(.*)\]\s*\)?\s*\)$", expr, re.IGNORECASE | re.DOTALL
    )
    if listed and listed.group(1).lower() in columns:
        values = [_clean(v) for v in split_top_level(listed.group(2), ",")]
        if values and all(re.fullmatch(r"'(?:[^']|'')*'", v) for v in values):
            allowed = tuple(v[1:-1].replace("''", "'") for v in values)
            return ConstraintCase(
                check.table,
                listed.group(1).lower(),
                "values",
                allowed,
                allowed,
                (_REJECTED_TEXT,),
                described,
                check.source,
            )
        return None
    parts = _conjuncts(expr)
    if not parts:
        return None
    bounds = [_bound(part) for part in parts]
    if any(b is None for b in bounds):
        return None
    kinds = {(b[0], b[1]) for b in bounds if b is not None}
    if len(kinds) != 1:
        return None
    kind, column = next(iter(kinds))
    if column not in columns:
        return None
    tests = [b[2] for b in bounds if b is not None]
    candidates = [c for b in bounds if b is not None for c in b[3] if kind != "length" or c >= 0]
    accepts = sorted({c for c in candidates if all(t(c) for t in tests)})
    rejects = sorted({c for c in candidates if not all(t(c) for t in tests)})
    if not rejects:
        return None
    if kind == "length":
        return ConstraintCase(
            check.table,
            column,
            kind,
            (),
            tuple("x" * int(n) for n in accepts),
            tuple("x" * int(n) for n in rejects),
            described,
            check.source,
        )
    return ConstraintCase(
        check.table,
        column,
        kind,
        (),
        tuple(_num(n) for n in accepts),
        tuple(_num(n) for n in rejects),
        described,
        check.source,
    )


def _conjuncts(expr: str) -> list[str]:
    # BETWEEN's own AND is not a conjunction: protect it before splitting.
    protected = re.sub(r"\bBETWEEN\s+(\S+)\s+AND\s+", r"BETWEEN \1 _AND_ ", expr, flags=re.IGNORECASE)
    if re.search(r"\bOR\b", protected, re.IGNORECASE):
        return []
    parts = re.split(r"\s+AND\s+", protected, flags=re.IGNORECASE)
    return [_clean(p.replace("_AND_", "AND")) for p in parts]


Bound = tuple[str, str, Callable[[float], bool], list[float]]


def _bound(part: str) -> Bound | None:
    """(kind, column, test, candidate values) for one comparison."""
    subject = r"(?:(length|char_length|character_length)\s*\(\s*(\w+)\s*\)|(\w+))"
    m = re.fullmatch(rf"{subject}\s+BETWEEN\s+({_NUMBER})\s+AND\s+({_NUMBER})", part, re.IGNORECASE)
    if m:
        low, high = float(m.group(4)), float(m.group(5))
        kind, column = _subject(m)
        return kind, column, lambda v: low <= v <= high, [low - 1, low, high, high + 1]
    m = re.fullmatch(rf"{subject}\s*(>=|<=|<>|!=|>|<)\s*({_NUMBER})", part, re.IGNORECASE)
    if m:
        op, limit = _OPS[m.group(4)], float(m.group(5))
        kind, column = _subject(m)
        return kind, column, lambda v: op(v, limit), [limit - 1, limit, limit + 1]
    m = re.fullmatch(r"(\w+)\s*(<>|!=)\s*''", part)
    if m:
        return "length", m.group(1).lower(), lambda v: v != 0, [0, 1]
    return None


def _subject(m: re.Match[str]) -> tuple[str, str]:
    if m.group(1):
        return "length", m.group(2).lower()
    return "range", m.group(3).lower()


def _num(value: float) -> int | float:
    return int(value) if value == int(value) else value
