"""Values from JSON schemas: a valid one (deterministic per seed), a well-typed id that does not
exist, and the invalid variants the 400 cases send (wrong type, missing field, outside an enum).

Every value made here is checked by the caller against the route's own pydantic field, so a value
this module gets wrong shows up as "could not build a valid body", never as a false failure.
"""

from __future__ import annotations

import math
import random
import re
import uuid
from collections.abc import Iterator
from typing import Any

__all__ = [
    "NOT_A_CHOICE",
    "Generator",
    "is_binary",
    "missing_id",
    "pattern_sample",
    "with_uploads",
    "wrong_type_candidates",
]

Schema = dict[str, Any]

NOT_A_CHOICE = "xaio-not-a-choice"
_MAX_DEPTH = 8
_STRING_SAMPLES = ("xaio", "xaio@example.com", "abc", "a", "x1", "ABC", "Abc1", "123", "a-b", "a_b", "1")
_FORMATS = {
    "email": "xaio.{n}@example.com",
    "date-time": "2026-01-02T03:04:05Z",
    "date": "2026-01-02",
    "time": "03:04:05",
    "duration": "P1D",
    "uri": "https://example.com/xaio-{n}",
    "url": "https://example.com/xaio-{n}",
    "http-url": "https://example.com/xaio-{n}",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "hostname": "example.com",
    "binary": "xaio",
    "password": "xaio-Secret-{n}!",
}


class Generator:
    """Valid JSON values for schemas sharing one ``$defs`` table; same seed and salt, same values."""

    def __init__(self, defs: Schema, seed: int, salt: str) -> None:
        self.defs = defs
        self.rng = random.Random(f"{seed}:{salt}")

    def resolve(self, schema: Schema) -> Schema:
        seen = 0
        while "$ref" in schema and seen < 32:
            ref = str(schema["$ref"])
            target = self.defs.get(ref.rsplit("/", 1)[-1], {})
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **rest}
            seen += 1
        return schema

    def valid(self, schema: Schema, name: str = "value", depth: int = 0) -> Any:
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return self.rng.choice(list(schema["enum"]))
        if "examples" in schema and isinstance(schema["examples"], list) and schema["examples"]:
            return schema["examples"][0]
        all_of = schema.get("allOf")
        if all_of:
            merged: Schema = {}
            for part in all_of:
                merged.update(self.resolve(part))
            merged.update({k: v for k, v in schema.items() if k != "allOf"})
            return self.valid(merged, name, depth)
        options = schema.get("anyOf") or schema.get("oneOf")
        if options:
            concrete = [o for o in options if self.resolve(o).get("type") != "null"] or options
            return self.valid(concrete[0], name, depth)
        kind = _type_of(schema)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            if depth >= _MAX_DEPTH:
                return []
            count = int(schema.get("minItems", 0))
            items = schema.get("items", {})
            values = [self.valid(items, name, depth + 1) for _ in range(count)]
            if schema.get("uniqueItems"):
                values = [f"{v}-{i}" if isinstance(v, str) else v for i, v in enumerate(values)]
            return values
        if kind == "string":
            return self._string(schema, name)
        if kind == "integer":
            return int(_number(schema, integer=True))
        if kind == "number":
            return _number(schema, integer=False)
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return f"xaio-{name}"

    def _object(self, schema: Schema, depth: int) -> dict[str, Any]:
        if depth >= _MAX_DEPTH:
            return {}
        properties: Schema = schema.get("properties", {})
        # Only required fields: optional ones are often foreign keys or filters a fresh database lacks.
        required = [n for n in schema.get("required", []) if n in properties]
        return {n: self.valid(properties[n], n, depth + 1) for n in required}

    def _string(self, schema: Schema, name: str) -> str:
        tag = f"{self.rng.getrandbits(24):06x}"
        fmt = schema.get("format")
        if fmt == "uuid" or fmt in ("uuid4", "uuid1"):
            return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        if isinstance(fmt, str) and fmt in _FORMATS:
            return _FORMATS[fmt].format(n=tag)
        low = int(schema.get("minLength", 0))
        high = int(schema.get("maxLength", 10_000))
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            built = _from_pattern(pattern)
            for sample in (f"xaio-{_slug(name)}-{tag}", f"xaio{tag}", *_STRING_SAMPLES, *built):
                if low <= len(sample) <= high and _search(pattern, sample):
                    return sample
        text = f"xaio-{_slug(name)}-{tag}"
        if len(text) < low:
            text = text + "x" * (low - len(text))
        return text[:high] if high >= 1 else text

    def walk_enums(
        self, schema: Schema, value: Any, path: tuple[Any, ...] = (), depth: int = 0
    ) -> Iterator[tuple[Any, ...]]:
        """Paths inside ``value`` (made by :meth:`valid` for ``schema``) that hold an enum value."""
        schema = self.resolve(schema)
        if depth > _MAX_DEPTH:
            return
        if schema.get("enum") and "const" not in schema:
            yield path
            return
        options = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
        if options:
            for option in options:
                resolved = self.resolve(option)
                if resolved.get("type") != "null":
                    yield from self.walk_enums(resolved, value, path, depth + 1)
                    return
            return
        if isinstance(value, dict):
            properties: Schema = schema.get("properties", {})
            for key, sub in value.items():
                if key in properties:
                    yield from self.walk_enums(properties[key], sub, (*path, key), depth + 1)
        elif isinstance(value, list) and value:
            yield from self.walk_enums(schema.get("items", {}), value[0], (*path, 0), depth + 1)

    def enum_schema_exists(self, schema: Schema, depth: int = 0) -> bool:
        """Whether a scalar enum appears anywhere in ``schema`` (query parameters use this)."""
        schema = self.resolve(schema)
        if depth > _MAX_DEPTH:
            return False
        if schema.get("enum"):
            return True
        options = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf") or []
        return any(self.enum_schema_exists(o, depth + 1) for o in options)


def _type_of(schema: Schema) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        concrete = [k for k in kind if k != "null"]
        return str(concrete[0]) if concrete else "null"
    if kind is None and "properties" in schema:
        return "object"
    return str(kind) if kind is not None else None


def _number(schema: Schema, *, integer: bool) -> float:
    low: float | None = None
    if "minimum" in schema:
        low = float(schema["minimum"])
    if "exclusiveMinimum" in schema:
        bound = float(schema["exclusiveMinimum"])
        low = bound + (1 if integer else 0.5)
    high: float | None = None
    if "maximum" in schema:
        high = float(schema["maximum"])
    if "exclusiveMaximum" in schema:
        high = float(schema["exclusiveMaximum"]) - (1 if integer else 0.5)
    value = 1.0
    if low is not None and value < low:
        value = low
    if high is not None and value > high:
        value = high
    step = schema.get("multipleOf")
    if step:
        value = float(step) * math.ceil(value / float(step))
    return float(math.ceil(value)) if integer else value


def pattern_sample(pattern: str) -> str | None:
    """A string matching ``pattern`` (for patterns pydantic checks but leaves out of the schema)."""
    for sample in (*_STRING_SAMPLES, *_from_pattern(pattern)):
        if _search(pattern, sample):
            return sample
    return None


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def _from_pattern(pattern: str) -> list[str]:
    """Strings built from the regex itself (shortest repeats, first branch), for patterns no sample
    fits; an empty list when the pattern uses what this small walker does not know."""
    try:
        import re._parser as sre_parse  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # Python 3.10
        import sre_parse  # type: ignore[no-redef,unused-ignore]
    try:
        parsed = sre_parse.parse(pattern)
        return [_walk_pattern(parsed, minimum) for minimum in (True, False)]
    except Exception:
        return []


_CATEGORY_CHARS = {
    "CATEGORY_DIGIT": "1",
    "CATEGORY_NOT_DIGIT": "a",
    "CATEGORY_WORD": "a",
    "CATEGORY_NOT_WORD": "-",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": "a",
}


def _walk_pattern(items: Any, minimum: bool) -> str:
    out: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_char_in(arg))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _high, sub = arg
            count = low if minimum else max(low, 1)
            out.append(_walk_pattern(sub, minimum) * count)
        elif name == "SUBPATTERN":
            out.append(_walk_pattern(arg[-1], minimum))
        elif name == "BRANCH":
            out.append(_walk_pattern(arg[1][0], minimum))
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue
        else:
            raise ValueError(name)
    return "".join(out)


def _char_in(options: Any) -> str:
    negated = any(str(op) == "NEGATE" for op, _ in options)
    allowed: list[str] = []
    excluded: set[str] = set()
    for op, arg in options:
        name = str(op)
        chars: list[str] = []
        if name == "LITERAL":
            chars = [chr(arg)]
        elif name == "RANGE":
            chars = [chr(arg[0])]
            if negated:
                chars = [chr(c) for c in range(arg[0], arg[1] + 1)]
        elif name == "CATEGORY":
            chars = [_CATEGORY_CHARS.get(str(arg), "a")]
        (excluded.update(chars) if negated else allowed.extend(chars))
    if not negated:
        return allowed[0] if allowed else "a"
    return next(c for c in "axZ09-_." if c not in excluded)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "value"


def missing_id(schema: Schema, defs: Schema, seed: int) -> Any:
    """A well-typed value for a path id that no database row has; ``None`` if the type has none
    (an enum or a constant is always "present")."""
    gen = Generator(defs, seed, "missing")
    schema = gen.resolve(schema)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        schema = gen.resolve(next((o for o in options if gen.resolve(o).get("type") != "null"), options[0]))
    if schema.get("enum") or "const" in schema:
        return None
    kind = _type_of(schema)
    if kind in ("integer", "number"):
        # Large, but inside a 32-bit integer column so the database answers "no row", not "overflow".
        value = 987_654_321 + seed
        high = schema.get("maximum")
        if high is not None and value > float(high):
            value = int(float(high))
        return value
    if schema.get("format") in ("uuid", "uuid4", "uuid1"):
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"pytest-xaio:missing:{seed}"))
    if kind in ("string", None):
        text = f"xaio-missing-{seed}"
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and not re.search(pattern, text):
            return gen.valid(schema, "missing")
        return text
    return None


def wrong_type_candidates(schema: Schema, gen: Generator) -> list[Any]:
    """Values of another JSON type than ``schema`` wants, most telling first."""
    schema = gen.resolve(schema)
    kind = _type_of(schema)
    if kind is None and (schema.get("anyOf") or schema.get("oneOf")):
        kinds = {_type_of(gen.resolve(o)) for o in schema.get("anyOf") or schema.get("oneOf") or []}
        kind = "string" if "string" in kinds else next((k for k in kinds if k and k != "null"), None)
    if kind == "string":
        return [{"xaio": "wrong-type"}, 12345, ["xaio"]]
    if kind in ("integer", "number"):
        return ["not-a-number", {"xaio": "wrong-type"}]
    if kind == "boolean":
        return ["not-a-boolean", {"xaio": "wrong-type"}]
    if kind == "object":
        return ["not-an-object", 12345, ["xaio"]]
    if kind == "array":
        return ["not-an-array", {"xaio": "wrong-type"}]
    return [{"xaio": "wrong-type"}, "not-a-number"]


def is_binary(schema: Any) -> bool:
    """A file field (``UploadFile``, ``bytes = File()``, a list of them): JSON schema's binary string."""
    if not isinstance(schema, dict):
        return False
    if schema.get("format") == "binary" or schema.get("contentMediaType") == "application/octet-stream":
        return True
    options = schema.get("anyOf") or schema.get("oneOf") or []
    return any(is_binary(o) for o in options) or (schema.get("type") == "array" and is_binary(schema.get("items", {})))


def with_uploads(schema: Schema, value: Any) -> Any:
    """``value`` with each file field's text as the ``UploadFile`` FastAPI hands the route, so an
    ``UploadFile`` field validates the way it will on the wire (where the text is the file's bytes)."""
    from io import BytesIO

    from starlette.datastructures import UploadFile

    if not isinstance(value, dict):
        return value
    properties = schema.get("properties", {})

    def upload(name: str, text: Any) -> Any:
        return UploadFile(BytesIO(str(text).encode()), filename=f"{name}.txt")

    changed = dict(value)
    for name, item in value.items():
        if item is None or not is_binary(properties.get(name, {})):
            continue
        changed[name] = [upload(name, i) for i in item] if isinstance(item, list) else upload(name, item)
    return changed
