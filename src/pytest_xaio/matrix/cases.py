"""Turning routes into matrix cases: which cases apply to a route, what each sends, what it expects.

Everything here is decided at collection time from plain data, so it is cheap and deterministic
(the same app and seed give the same ids and the same requests, on every xdist worker).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_xaio.errors import config_error
from pytest_xaio.matrix.bodies import NOT_A_CHOICE, Generator, missing_id, pattern_sample, wrong_type_candidates
from pytest_xaio.matrix.routes import Param, RouteInfo, matches

__all__ = ["CASE_KINDS", "CaseSpec", "Expectations", "build_cases"]

#: Case name -> kind. The kind's code is what the id shows; the expected status is configurable.
CASE_KINDS: dict[str, str] = {
    "success": "success",
    "invalid-type": "validation",
    "missing-field": "validation",
    "invalid-enum": "validation",
    "missing-auth": "unauthenticated",
    "malformed-header": "unauthenticated",
    "expired-token": "unauthenticated",
    "wrong-signature": "unauthenticated",
    "alg-none": "unauthenticated",
    "unprotected-route": "unauthenticated",
    "missing-resource": "not_found",
}
_KIND_CODES = {"validation": 400, "unauthenticated": 401, "not_found": 404}
_TOKEN_CASES = {
    "bearer": ("missing-auth", "malformed-header", "expired-token", "wrong-signature", "alg-none"),
    "apikey": ("missing-auth", "malformed-header"),
    "basic": ("missing-auth", "malformed-header"),
}
#: Fixtures that hold the credentials of the routes whose auth is not a bearer token.
CREDENTIAL_FIXTURES = {"apikey": "xaio_api_key", "basic": "xaio_basic_auth"}


@dataclass(frozen=True)
class CaseSpec:
    """One matrix case: a request to make and the statuses that pass."""

    route: RouteInfo
    name: str
    code: int
    expected: tuple[int, ...]
    anonymous: bool = False
    path: Mapping[str, Any] = field(default_factory=dict)  # literal values (ids that do not exist)
    path_fixtures: tuple[str, ...] = ()  # path params taken from fixtures of the same name
    fill_fixtures: tuple[str, ...] = ()  # query/body fields filled from fixtures when they exist
    query: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    send_body: bool = False
    body_problem: str | None = None  # the generated body is not valid: ask the payload hook, else skip
    auth_case: str | None = None  # which bad credential the anonymous client sends
    seed: int = 0

    @property
    def kind(self) -> str:
        return CASE_KINDS[self.name]

    @property
    def id(self) -> str:
        return f"{self.route.method} {self.route.path}-{self.code}-{self.name}"

    @property
    def uses_payload(self) -> bool:
        """Cases whose body must be valid (the hook may supply it); 400 cases send their own."""
        return self.send_body and self.kind != "validation"


@dataclass(frozen=True)
class Expectations:
    """Expected statuses per kind and per case name, from ``xaio_validation_status`` and
    ``xaio_expected_status`` (case names win over kinds)."""

    by_key: Mapping[str, tuple[int, ...]]

    @classmethod
    def from_settings(cls, validation_status: int, lines: Iterable[str]) -> Expectations:
        by_key: dict[str, tuple[int, ...]] = {"validation": (validation_status,)}
        known = set(CASE_KINDS) | set(_KIND_CODES) | {"success"}
        for line in lines:
            key, sep, value = line.partition("=")
            key = key.strip().replace("_", "-") if key.strip() not in _KIND_CODES else key.strip()
            if key == "not-found":
                key = "not_found"
            if not sep or key not in known:
                config_error(
                    f"xaio_expected_status line {line!r} is not kind = status",
                    "use lines like 'unauthenticated = 403' or 'expired-token = 401|403'; kinds: "
                    + ", ".join(sorted(known)),
                )
            try:
                codes = tuple(int(part) for part in value.replace(",", "|").split("|") if part.strip())
            except ValueError:
                codes = ()
            if not codes:
                config_error(
                    f"xaio_expected_status line {line!r} has no status code",
                    "write the status as a number, or several as 401|403",
                )
            by_key[key] = codes
        return cls(by_key)

    def expected(self, name: str, route: RouteInfo) -> tuple[int, ...]:
        kind = CASE_KINDS[name]
        if name in self.by_key:
            return self.by_key[name]
        if kind in self.by_key:
            return self.by_key[kind]
        return (route.status,) if kind == "success" else (_KIND_CODES[kind],)


def build_cases(
    routes: Sequence[RouteInfo],
    *,
    expectations: Expectations,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    public: Sequence[str] = (),
    statuses: Sequence[int] = (),
    seed: int = 0,
) -> list[CaseSpec]:
    """All cases for the routes, in route order; ids are unique."""
    cases: list[CaseSpec] = []
    for route in routes:
        if include and not matches(include, route.method, route.path):
            continue
        if exclude and matches(exclude, route.method, route.path):
            continue
        is_public = matches(public, route.method, route.path)
        cases.extend(_RouteCases(route, expectations, is_public, seed).build())
    if statuses:
        wanted = set(statuses)
        cases = [c for c in cases if c.code in wanted or (c.kind == "success" and 200 in wanted)]
    seen: dict[str, int] = {}
    unique: list[CaseSpec] = []
    for case in cases:
        count = seen.get(case.id, 0)
        seen[case.id] = count + 1
        unique.append(case if count == 0 else _renamed(case, count + 1))
    return unique


def _renamed(case: CaseSpec, n: int) -> CaseSpec:
    # Two routes with the same method and path: FastAPI only ever reaches the first; keep ids unique.
    route = case.route
    twin = RouteInfo(
        route.method,
        f"{route.path}#{n}",
        route.name,
        route.status,
        route.params,
        route.body,
        route.auth,
        route.api_key,
        route.response_field,
        route.is_async,
    )
    return CaseSpec(**{**case.__dict__, "route": twin})


class _RouteCases:
    def __init__(self, route: RouteInfo, expectations: Expectations, is_public: bool, seed: int) -> None:
        self.route = route
        self.expectations = expectations
        self.is_public = is_public
        self.seed = seed
        self.gen = Generator(route.body.defs if route.body else {}, seed, route.key)
        self._body = self._make_body()

    def build(self) -> list[CaseSpec]:
        route = self.route
        cases = [self._case("success", path_fixtures=self._path_names())]
        cases.extend(self._validation_cases())
        if route.auth is not None and not self.is_public:
            for name in _TOKEN_CASES[route.auth]:
                cases.append(
                    self._case(
                        name,
                        anonymous=True,
                        auth_case=name,
                        path_fixtures=self._path_names(),
                        path=self._missing_path(),
                    )
                )
        elif route.auth is None and not self.is_public:
            cases.append(
                self._case(
                    "unprotected-route", anonymous=True, path_fixtures=self._path_names(), path=self._missing_path()
                )
            )
        if any(missing_id(p.schema, p.defs, self.seed) is not None for p in route.params_in("path")):
            cases.append(self._case("missing-resource", path=self._missing_path()))
        return cases

    # --- the pieces of a request ----------------------------------------------------------------
    def _path_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.route.params_in("path"))

    def _missing_path(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for param in self.route.params_in("path"):
            value = missing_id(param.schema, param.defs, self.seed)
            if value is None:
                value = Generator(param.defs, self.seed, param.name).valid(param.schema, param.name)
            values[param.name] = value
        return values

    def _valid_params(self, location: str) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for param in self.route.params_in(location):
            if param.required:
                values[param.name] = Generator(param.defs, self.seed, param.name).valid(param.schema, param.name)
        return values

    def _valid_body(self) -> tuple[Any, str | None]:
        return self._body

    def _make_body(self) -> tuple[Any, str | None]:
        body = self.route.body
        if body is None:
            return None, None
        value = self.gen.valid(body.schema, "body")
        errors = body.validate(value)
        for _ in range(3):  # constraints pydantic checks but leaves out of the JSON schema
            repaired = _repaired(value, errors)
            if not errors or repaired is None:
                break
            value, errors = repaired, body.validate(repaired)
        if errors:
            return value, _describe_errors(errors)
        return value, None

    def _case(self, name: str, **overrides: Any) -> CaseSpec:
        route = self.route
        body, problem = self._valid_body()
        headers = {p.name: str(v) for p, v in self._with_params("header")}
        cookies = "; ".join(f"{p.name}={v}" for p, v in self._with_params("cookie"))
        if cookies:
            headers["cookie"] = cookies
        fill = tuple(p.name for p in route.params_in("query"))
        if isinstance(body, dict):
            fill += tuple(body)
        values: dict[str, Any] = {
            "route": route,
            "name": name,
            "code": route.status if CASE_KINDS[name] == "success" else _KIND_CODES[CASE_KINDS[name]],
            "expected": self.expectations.expected(name, route),
            "anonymous": self.is_public,
            "query": self._valid_params("query"),
            "headers": headers,
            "body": body,
            "send_body": route.body is not None,
            "body_problem": problem,
            "fill_fixtures": fill,
            "seed": self.seed,
        }
        values.update(overrides)
        return CaseSpec(**values)

    def _with_params(self, location: str) -> list[tuple[Param, Any]]:
        return [
            (p, v)
            for p in self.route.params_in(location)
            if (v := self._valid_params(location).get(p.name)) is not None
        ]

    # --- 400 ------------------------------------------------------------------------------------
    def _validation_cases(self) -> list[CaseSpec]:
        cases: list[CaseSpec] = []
        for name, make in (
            ("invalid-type", self._wrong_type),
            ("missing-field", self._missing_field),
            ("invalid-enum", self._outside_enum),
        ):
            change = make()
            if change is not None:
                cases.append(self._case(name, **{"path": self._missing_path(), "fill_fixtures": (), **change}))
        return cases

    def _wrong_type(self) -> dict[str, Any] | None:
        body = self.route.body
        valid, problem = self._valid_body()
        if body is not None and problem is None:
            if isinstance(valid, dict):
                properties = self.gen.resolve(body.schema).get("properties", {})
                for key in valid:
                    for candidate in wrong_type_candidates(properties.get(key, {}), self.gen):
                        changed = {**valid, key: candidate}
                        if body.validate(changed):
                            return {"body": changed}
            for candidate in wrong_type_candidates(body.schema, self.gen):
                if body.validate(candidate):
                    return {"body": candidate}
        for param in self.route.params_in("query"):
            # A string on the wire is only the wrong type for numbers and booleans (not for enums).
            if _scalar_type(param) in ("integer", "number", "boolean") and not param.validate("not-a-number"):
                return {"query": {**self._valid_params("query"), param.name: "not-a-number"}}
        for param in self.route.params_in("path"):
            if not param.validate("not-a-number"):
                return {"path": {**self._missing_path(), param.name: "not-a-number"}}
        return None

    def _missing_field(self) -> dict[str, Any] | None:
        body = self.route.body
        valid, problem = self._valid_body()
        if body is not None and problem is None:
            if isinstance(valid, dict):
                for key in valid:
                    changed = {k: v for k, v in valid.items() if k != key}
                    if body.validate(changed):
                        return {"body": changed}
            if body.required:
                return {"send_body": False}
        for param in self.route.params_in("query"):
            if param.required:
                return {"query": {k: v for k, v in self._valid_params("query").items() if k != param.name}}
        for param in self.route.params_in("header"):
            if param.required:
                return {"headers": {k: v for k, v in self._case("success").headers.items() if k != param.name}}
        return None

    def _outside_enum(self) -> dict[str, Any] | None:
        body = self.route.body
        valid, problem = self._valid_body()
        if body is not None and problem is None:
            for path in self.gen.walk_enums(body.schema, valid):
                changed = _replace_at(valid, path, NOT_A_CHOICE)
                if body.validate(changed):
                    return {"body": changed}
            if isinstance(valid, dict):  # an optional enum field the valid body leaves out
                properties = self.gen.resolve(body.schema).get("properties", {})
                for key, schema in properties.items():
                    if key not in valid and self.gen.enum_schema_exists(schema):
                        changed = {**valid, key: NOT_A_CHOICE}
                        if body.validate(changed):
                            return {"body": changed}
        for param in self.route.params_in("query"):
            gen = Generator(param.defs, self.seed, param.name)
            if gen.enum_schema_exists(param.schema) and not param.validate(NOT_A_CHOICE):
                return {"query": {**self._valid_params("query"), param.name: NOT_A_CHOICE}}
        return None


def _scalar_type(param: Param) -> str | None:
    schema = Generator(param.defs, 0, "").resolve(param.schema)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        schema = next((o for o in options if o.get("type") not in (None, "null")), {})
    kind = schema.get("type")
    return kind if isinstance(kind, str) and "enum" not in schema and "const" not in schema else None


def _repaired(value: Any, errors: Sequence[Any]) -> Any:
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
            value = _replace_at(value, loc, sample)
        except (KeyError, IndexError, TypeError):
            continue
        changed = True
    return value if changed else None


def _replace_at(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace_at(value[head], rest, new)}
    if isinstance(value, list):
        copy = list(value)
        copy[head] = _replace_at(copy[head], rest, new)
        return copy
    return value


def _describe_errors(errors: Sequence[Any]) -> str:
    parts = []
    for error in errors[:3]:
        if isinstance(error, Mapping):
            loc = ".".join(str(x) for x in error.get("loc", ()) if x != "body")
            parts.append(f"{loc or 'body'}: {error.get('msg', error)}")
        else:
            parts.append(str(error))
    return "; ".join(parts)
