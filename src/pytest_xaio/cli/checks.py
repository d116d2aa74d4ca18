"""Turn a CHECK constraint or an enum column into values a test can insert: accepted and rejected.

The constraints are read by :mod:`pytest_xaio.db.checkexpr` (the one CHECK reader, shared with the
database assertions); a constraint in a shape it does not read is reported, not guessed at.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pytest_xaio.cli.schema import Check, Schema
from pytest_xaio.db.checkexpr import Value, pattern_check, read_check

__all__ = ["ConstraintCase", "Value", "constraint_cases"]


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
        read = pattern_check(check.expression)
        if read is None:
            continue
        column, pattern = read
        value = next((c for c in _CANDIDATES if pattern.search(c)), None)
        if value is not None:
            found.setdefault(check.table, {})[column] = value
    return found


def _analyse(check: Check, columns: set[str]) -> ConstraintCase | None:
    reading = read_check(check.expression, columns)
    if reading is None:
        return None
    described = f"CHECK ({' '.join(check.expression.split())})"
    return ConstraintCase(
        check.table,
        reading.column,
        reading.kind,
        reading.allowed,
        reading.accepts,
        reading.rejects,
        described,
        check.source,
    )
