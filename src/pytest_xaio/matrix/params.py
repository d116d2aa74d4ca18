"""Small judgements about parameters and pydantic errors that building cases needs: whether a path
parameter names a choice (an enum) rather than a row, a parameter's scalar type, and repairing or
describing a body pydantic refused."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_xaio.matrix.bodies import Generator, pattern_sample
from pytest_xaio.matrix.routes import Param

__all__ = ["choice_type", "describe_errors", "has_choices", "repaired", "replace_at", "scalar_type", "scalar_type_of"]


def has_choices(param: Param) -> bool:
    gen = Generator(param.defs, 0, "")
    return gen.enum_schema_exists(param.schema) or "const" in gen.resolve(param.schema)


def choice_type(param: Param) -> str | None:
    schema = Generator(param.defs, 0, "").resolve(param.schema)
    kind = schema.get("type")
    if kind is None and schema.get("enum"):
        kinds = {type(v).__name__ for v in schema["enum"]}
        kind = "string" if kinds == {"str"} else None
    return kind if isinstance(kind, str) else None


def scalar_type(param: Param) -> str | None:
    return scalar_type_of(Generator(param.defs, 0, ""), param.schema)


def scalar_type_of(gen: Generator, schema: Any) -> str | None:
    schema = gen.resolve(schema)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        schema = next((o for o in options if o.get("type") not in (None, "null")), {})
    kind = schema.get("type")
    return kind if isinstance(kind, str) and "enum" not in schema and "const" not in schema else None


def repaired(value: Any, errors: Sequence[Any]) -> Any:
    """``value`` with the fields pydantic refused for a pattern replaced by a matching string."""
    changed = False
    for error in errors:
        if not isinstance(error, Mapping) or error.get("type") != "string_pattern_mismatch":
            continue
        pattern = (error.get("ctx") or {}).get("pattern")
        sample = pattern_sample(str(pattern)) if pattern else None
        loc = tuple(error.get("loc", ()))[1:]  # drop the ("body",) prefix the check added
        if sample is None or not loc:
            continue
        try:
            value = replace_at(value, loc, sample)
        except (KeyError, IndexError, TypeError):
            continue
        changed = True
    return value if changed else None


def replace_at(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replace_at(value[head], rest, new)}
    if isinstance(value, list):
        copy = list(value)
        copy[head] = replace_at(copy[head], rest, new)
        return copy
    return value


def describe_errors(errors: Sequence[Any]) -> str:
    parts = []
    for error in errors[:3]:
        if isinstance(error, Mapping):
            loc = ".".join(str(x) for x in error.get("loc", ()) if x != "body")
            parts.append(f"{loc or 'body'}: {error.get('msg', error)}")
        else:
            parts.append(str(error))
    return "; ".join(parts)
