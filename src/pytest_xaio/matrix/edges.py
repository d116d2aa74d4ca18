"""Valid but unusual request values: the one deterministic ``-edge-values`` body, and the Hypothesis
strategy the ``-examples`` case draws from.

Edge values are the ones apps forget: ``null`` for an optional field, an empty string where the model
allows it, a number on its boundary, very long and non-ASCII text. Every value is checked against the
route's own pydantic field before it is used, so an odd request is never a wrong one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from pytest_xaio.matrix.bodies import Generator, _type_of

__all__ = ["edge_body", "edge_query", "strategy_for"]

Schema = dict[str, Any]
_MAX_DEPTH = 6


def _nullable(gen: Generator, schema: Schema) -> bool:
    schema = gen.resolve(schema)
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    return any(_nullable(gen, o) for o in schema.get("anyOf") or schema.get("oneOf") or [])


def _concrete(gen: Generator, schema: Schema) -> Schema:
    schema = gen.resolve(schema)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        real = [gen.resolve(o) for o in options if gen.resolve(o).get("type") != "null"]
        if len(real) == 1:
            return {**{k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}, **real[0]}
    return schema


def _boundary(schema: Schema) -> Any:
    integer = _type_of(schema) == "integer"
    for key, step in (("minimum", 0), ("exclusiveMinimum", 1), ("maximum", 0), ("exclusiveMaximum", -1)):
        if key in schema:
            value = float(schema[key]) + (step if integer else step * 0.5)
            return int(value) if integer else value
    return 0


def _edge(gen: Generator, schema: Schema, required: bool, form: bool) -> tuple[bool, Any]:
    """``(True, value)`` for the field's edge value, ``(False, None)`` when it has none worth sending."""
    if not required:
        if form:
            return False, None  # a form cannot send null, and FastAPI reads "" as "not sent"
        if _nullable(gen, schema):
            return True, None
    schema = _concrete(gen, schema)
    kind = _type_of(schema)
    if schema.get("enum") or "const" in schema:
        return False, None
    if kind == "string" and not form and int(schema.get("minLength", 0)) == 0:
        return True, ""
    if kind in ("integer", "number"):
        return True, _boundary(schema)
    return False, None


def edge_body(gen: Generator, schema: Schema, valid: Any, validate: Callable[[Any], list[Any]], form: bool) -> Any:
    """``valid`` with every field the model allows it replaced by its edge value (kept one by one,
    only while the body stays valid); ``None`` when no field has one."""
    if not isinstance(valid, dict):
        return None
    resolved = gen.resolve(schema)
    properties: Schema = resolved.get("properties", {})
    required = set(resolved.get("required", []))
    body = dict(valid)
    changed = False
    for name, sub in properties.items():
        ok, value = _edge(gen, sub, name in required, form)
        if not ok:
            inner = _concrete(gen, sub)
            if name in body and isinstance(body[name], dict) and _type_of(inner) == "object":
                check = functools.partial(_validate_nested, validate, dict(body), name)
                nested = edge_body(gen, inner, body[name], check, form)
                if nested is not None:
                    body[name], changed = nested, True
            continue
        candidate = {**body, name: value}
        if not validate(candidate):
            body, changed = candidate, True
    return body if changed else None


def _validate_nested(validate: Callable[[Any], list[Any]], outer: dict[str, Any], key: str, value: Any) -> list[Any]:
    return validate({**outer, key: value})


def edge_query(params: Any) -> dict[str, Any]:
    """Edge values for query parameters: "" for optional strings, boundary numbers, where valid."""
    values: dict[str, Any] = {}
    for param in params:
        gen = Generator(param.defs, 0, param.name)
        schema = _concrete(gen, param.schema)
        kind = _type_of(schema)
        if kind == "string" and not param.required and not schema.get("enum") and param.validate(""):
            values[param.name] = ""
        elif kind in ("integer", "number") and param.validate(_boundary(schema)):
            values[param.name] = _boundary(schema)
    return values


# --- Hypothesis (imported only when a route has examples to draw) ------------------------------------
# No NUL or other control characters: PostgreSQL text cannot hold NUL, and that crash is not the
# app's logic failing on an edge value.
_TEXT_EDGES = ("", " ", "ünïcödé ✓ 日本語 😀", "'; DROP TABLE x; --", "x" * 1000)


def strategy_for(gen: Generator, schema: Schema, form: bool = False, depth: int = 0) -> Any:
    """A Hypothesis strategy of JSON values for ``schema``, leaning on edge values."""
    from hypothesis import strategies as st

    schema = gen.resolve(schema)
    if "const" in schema:
        return st.just(schema["const"])
    if schema.get("enum"):
        return st.sampled_from(list(schema["enum"]))
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return st.one_of([strategy_for(gen, o, form, depth + 1) for o in options])
    if schema.get("allOf"):
        merged: Schema = {}
        for part in schema["allOf"]:
            merged.update(gen.resolve(part))
        return strategy_for(gen, merged, form, depth + 1)
    kind = _type_of(schema)
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind in ("integer", "number"):
        low = schema.get("minimum")
        high = schema.get("maximum")
        if kind == "integer":
            ints = st.integers(
                min_value=int(low) if low is not None else -(2**31), max_value=int(high) if high is not None else 2**31
            )
            return st.one_of(st.sampled_from([v for v in (low, high, 0, -1, 1) if v is not None]).map(int), ints)
        return st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)
    if kind == "string":
        fallback = gen.valid(schema, "value")
        if schema.get("format") or schema.get("pattern"):
            return st.just(fallback)
        low, high = int(schema.get("minLength", 0)), int(schema.get("maxLength", 2000))
        edges = [t[:high] for t in _TEXT_EDGES if len(t[:high]) >= low]
        chars = st.characters(exclude_categories=("Cs", "Cc"))
        return st.one_of(st.sampled_from([fallback, *edges]), st.text(chars, min_size=low, max_size=min(high, 50)))
    if kind == "array":
        if depth >= _MAX_DEPTH:
            return st.just([])
        return st.lists(
            strategy_for(gen, schema.get("items", {}), form, depth + 1),
            min_size=int(schema.get("minItems", 0)),
            max_size=min(int(schema.get("maxItems", 3)), 3),
        )
    if kind == "object":
        properties: Schema = schema.get("properties", {})
        required = [n for n in schema.get("required", []) if n in properties]
        optional = [n for n in properties if n not in required]
        if depth >= _MAX_DEPTH:
            return st.just(gen.valid(schema))
        return st.fixed_dictionaries(
            {n: strategy_for(gen, properties[n], form, depth + 1) for n in required},
            optional={n: strategy_for(gen, properties[n], form, depth + 1) for n in optional},
        )
    return st.just(gen.valid(schema))
