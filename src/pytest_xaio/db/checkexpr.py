"""The one reader of CHECK constraint expressions, for the database assertions and for `xaio init`.

It reads what Postgres reports (``pg_get_constraintdef``: ``CHECK ((status = ANY (ARRAY['a'::text])))``)
and what migrations say (``CHECK (status IN ('a', 'b'))``). Only shapes whose meaning is certain are
read: a list of allowed values (``IN (...)``, ``= ANY (ARRAY[...])``, ``col = 'a' OR col = 'b'``),
comparisons of a column with a number, ``BETWEEN``, the length of a text column, and a column
matching a pattern (``~``). Anything else gives ``None``: reported by the callers, never guessed at.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

__all__ = [
    "REJECTED_TEXT",
    "CheckReading",
    "expression_of",
    "listed_values",
    "pattern_check",
    "read_check",
    "split_top_level",
]

Value = int | float | str

#: A text value no CHECK list allows (the rejected case of a "values" reading).
REJECTED_TEXT = "xaio-not-an-allowed-value"
_NUMBER = r"-?\d+(?:\.\d+)?"
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "<>": operator.ne,
    "!=": operator.ne,
}
_LITERAL = re.compile(r"'(?:[^']|'')*'")


@dataclass(frozen=True)
class CheckReading:
    """What one CHECK allows for one column: ``kind`` "values" (a list), "range" or "length"."""

    column: str
    kind: str
    allowed: tuple[str, ...]
    accepts: tuple[Value, ...]
    rejects: tuple[Value, ...]


def split_top_level(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside quotes, parentheses and brackets; empty parts dropped."""
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    start = 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p for p in parts if p.strip()]


def expression_of(definition: str) -> str:
    """The expression inside ``CHECK (...)`` as ``pg_get_constraintdef`` writes it (``NOT VALID``,
    ``NO INHERIT`` dropped); an expression without ``CHECK`` is returned as it is."""
    m = re.match(r"^\s*CHECK\s*\((.*)\)(?:\s+NO\s+INHERIT|\s+NOT\s+VALID)*\s*$", definition, re.I | re.S)
    return m.group(1) if m else definition


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


def _unquote(literal: str) -> str:
    return literal[1:-1].replace("''", "'")


def _without_null_branch(expr: str) -> str:
    nullable = re.match(r"^\(?(\w+)\s+IS\s+NULL\)?\s+OR\s+(.*)$", expr, re.IGNORECASE | re.DOTALL)
    return _clean(nullable.group(2)) if nullable else expr


def _listed(expr: str) -> tuple[str, tuple[str, ...] | None] | None:
    """``col IN (...)``, ``col = ANY (ARRAY[...])`` or ``col = 'a' OR col = 'b'``: the column and its
    values (None when an item of the list is not a text literal)."""
    m = re.match(r"^(\w+)\s+IN\s*\((.*)\)$", expr, re.IGNORECASE | re.DOTALL) or re.match(
        r"^(\w+)\s*=\s*ANY\s*\(\s*\(?\s*ARRAY\s*\[(.*)\]\s*\)?\s*\)$", expr, re.IGNORECASE | re.DOTALL
    )
    if m:
        items = [_clean(v) for v in split_top_level(m.group(2), ",")]
        literal = bool(items) and all(_LITERAL.fullmatch(v) for v in items)
        return m.group(1).lower(), tuple(_unquote(v) for v in items) if literal else None
    alternatives = [_clean(p) for p in re.split(r"\s+OR\s+", expr, flags=re.IGNORECASE)]
    pairs = [re.fullmatch(r"(\w+)\s*=\s*('(?:[^']|'')*')", a) for a in alternatives]
    matches = [p for p in pairs if p is not None]
    if matches and len(matches) == len(pairs) and len({p.group(1).lower() for p in matches}) == 1:
        return matches[0].group(1).lower(), tuple(_unquote(p.group(2)) for p in matches)
    return None


def listed_values(definition: str, column: str) -> list[str] | None:
    """The values a CHECK lists for ``column`` (in any one of its AND-ed parts), or None."""
    expr = _without_null_branch(_clean(expression_of(definition)))
    for part in _conjuncts(expr) or [expr]:
        found = _listed(_without_null_branch(part))
        if found is not None and found[0] == column.lower() and found[1] is not None:
            return list(found[1])
    return None


def pattern_check(definition: str) -> tuple[str, re.Pattern[str]] | None:
    """``col ~ 'pattern'`` (``~*``: any case): the column and the compiled pattern, or None."""
    m = re.fullmatch(r"(\w+)\s*(~\*?)\s*'((?:[^']|'')*)'", _clean(expression_of(definition)))
    if not m:
        return None
    try:
        pattern = re.compile(m.group(3).replace("''", "'"), re.IGNORECASE if m.group(2) == "~*" else 0)
    except re.error:
        return None
    return m.group(1).lower(), pattern


def read_check(definition: str, columns: Collection[str]) -> CheckReading | None:
    """What the CHECK allows, when it is about one of ``columns`` and in a shape read with certainty."""
    expr = _without_null_branch(_clean(expression_of(definition)))
    listed = _listed(expr)
    if listed is not None and listed[0] in columns:
        column, values = listed
        return None if values is None else CheckReading(column, "values", values, values, (REJECTED_TEXT,))
    parts = _conjuncts(expr)
    bounds = [_bound(part) for part in parts]
    if not bounds or any(b is None for b in bounds):
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
        return CheckReading(
            column, kind, (), tuple("x" * int(n) for n in accepts), tuple("x" * int(n) for n in rejects)
        )
    return CheckReading(column, kind, (), tuple(_num(n) for n in accepts), tuple(_num(n) for n in rejects))


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
