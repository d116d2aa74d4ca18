"""The one SQL splitter: a script into statements, quotes, ``$$`` bodies and comments respected.

Running a migration statement by statement lets an error name the line it happened on even when
Postgres reports no position (most errors raised after parsing carry none): :func:`split_statements`.
Reading a schema (``xaio init``/``xaio inspect``) wants the statements without their comments:
:func:`statements_without_comments`.
"""

from __future__ import annotations

import re

__all__ = ["split_statements", "statements_without_comments", "strip_comments"]

_DOLLAR = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*\$|\$\$")


def split_statements(text: str) -> list[tuple[int, str]]:
    """``(first line, statement)`` pairs; comments and blank space between statements are dropped."""
    out: list[tuple[int, str]] = []
    i, n, start = 0, len(text), 0
    while i < n:
        ch = text[i]
        if ch == "-" and text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif ch == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif ch in ("'", '"'):
            i = _skip_quoted(text, i, ch)
        elif ch == "$" and (m := _DOLLAR.match(text, i)):
            end = text.find(m.group(0), m.end())
            i = n if end < 0 else end + len(m.group(0))
        elif ch == ";":
            _emit(text, start, i + 1, out)
            start = i = i + 1
        else:
            i += 1
    _emit(text, start, n, out)
    return out


def _skip_quoted(text: str, i: int, quote: str) -> int:
    i += 1
    while i < len(text):
        if text[i] == quote:
            if i + 1 < len(text) and text[i + 1] == quote:  # doubled quote escapes itself
                i += 2
                continue
            return i + 1
        i += 1
    return i


def _emit(text: str, start: int, end: int, out: list[tuple[int, str]]) -> None:
    chunk = text[start:end]
    body = _strip_leading_comments(chunk)
    if not body.strip().rstrip(";").strip():
        return
    offset = start + (len(chunk) - len(body))
    out.append((text.count("\n", 0, offset) + 1, body.strip()))


def _strip_leading_comments(chunk: str) -> str:
    while True:
        stripped = chunk.lstrip()
        if stripped.startswith("--"):
            nl = stripped.find("\n")
            chunk = "" if nl < 0 else stripped[nl + 1 :]
        elif stripped.startswith("/*"):
            end = stripped.find("*/")
            chunk = "" if end < 0 else stripped[end + 2 :]
        else:
            return stripped


def strip_comments(text: str) -> str:
    """``text`` without ``--`` and ``/* */`` comments (a block comment becomes a space); quotes and
    ``$$`` bodies are kept as they are."""
    out: list[str] = []
    i, n, start = 0, len(text), 0
    while i < n:
        ch = text[i]
        if ch == "-" and text.startswith("--", i):
            out.append(text[start:i])
            end = text.find("\n", i)
            i = start = n if end < 0 else end
        elif ch == "/" and text.startswith("/*", i):
            out.append(text[start:i] + " ")
            end = text.find("*/", i + 2)
            i = start = n if end < 0 else end + 2
        elif ch in ("'", '"'):
            i = _skip_quoted(text, i, ch)
        elif ch == "$" and (m := _DOLLAR.match(text, i)):
            end = text.find(m.group(0), m.end())
            i = n if end < 0 else end + len(m.group(0))
        else:
            i += 1
    out.append(text[start:])
    return "".join(out)


def statements_without_comments(text: str) -> list[str]:
    """The statements of a script with their comments removed and without the closing ``;``."""
    found = (strip_comments(statement).strip().removesuffix(";").strip() for _, statement in split_statements(text))
    return [statement for statement in found if statement]
