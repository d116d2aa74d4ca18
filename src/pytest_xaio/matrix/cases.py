"""Turning routes into matrix cases: which cases apply to a route, what each sends, what it expects.

Everything here is decided at collection time from plain data, so it is cheap and deterministic
(the same app and seed give the same ids and the same requests, on every xdist worker).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_xaio.matrix.bodies import NOT_A_CHOICE, Generator, missing_id, wrong_type_candidates
from pytest_xaio.matrix.expect import CASE_KINDS, KIND_CODES, Expectations
from pytest_xaio.matrix.params import (
    choice_type,
    describe_errors,
    has_choices,
    repaired,
    replace_at,
    scalar_type,
    scalar_type_of,
)
from pytest_xaio.matrix.routes import Param, RouteInfo, matches

__all__ = ["CASE_KINDS", "CaseSpec", "Expectations", "build_cases"]

_TOKEN_CASES = {
    "bearer": ("missing-auth", "malformed-header", "expired-token", "wrong-signature", "alg-none"),
    "apikey": ("missing-auth", "malformed-header"),
    "basic": ("missing-auth", "malformed-header", "wrong-password"),
}
#: Fixtures that hold the credentials of the routes whose auth is not a bearer token.
CREDENTIAL_FIXTURES = {"apikey": "xaio_api_key", "basic": "xaio_basic_auth"}


@dataclass(frozen=True)
class CaseSpec:
    """One matrix case: a request to make and the statuses that pass."""

    route: RouteInfo
    name: str
    code: int
    expected: tuple[int, ...]  # empty: any status below 500
    identity: str = "user"  # user, anon (no credentials), admin, other (a second user)
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
    before: CaseSpec | None = None  # a request sent first (after-delete: the DELETE)
    examples: int = 0  # Hypothesis-drawn requests (the examples case)
    app: str | None = None  # the marker's app=, so requests go to the app the case was read from
    notes: tuple[str, ...] = ()  # what the matrix does not cover in that app (websockets...), for the report

    @property
    def anonymous(self) -> bool:
        return self.identity == "anon"

    @property
    def kind(self) -> str:
        return CASE_KINDS[self.name]

    @property
    def id(self) -> str:
        return f"{self.route.method} {self.route.path}-{self.code}-{self.name}"

    @property
    def uses_payload(self) -> bool:
        """Cases whose body must be valid (the hook may supply it); 400 and edge-value cases send their own."""
        return self.send_body and self.kind not in ("validation", "robustness")

    def with_route(self, route: RouteInfo) -> CaseSpec:
        return dataclasses.replace(self, route=route)


def build_cases(
    routes: Sequence[RouteInfo],
    *,
    expectations: Expectations,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    public: Sequence[str] = (),
    statuses: Sequence[int] = (),
    seed: int = 0,
    admin_identity: bool = False,
    examples: int = 0,
    app: str | None = None,
    notes: tuple[str, ...] = (),
) -> list[CaseSpec]:
    """All cases for the routes, in route order; ids are unique.

    ``admin_identity``: admin attributes are configured, so admin routes' success cases run as an admin.
    """
    from pytest_xaio.matrix.authz import after_delete_case, authz_cases, not_covered_authz, robustness_cases

    cases: list[CaseSpec] = []
    chosen = [
        r
        for r in routes
        if not (include and not matches(include, r.method, r.path))
        and not (exclude and matches(exclude, r.method, r.path))
    ]
    by_key = {(r.method, r.path): r for r in chosen}
    for route in chosen:
        is_public = matches(public, route.method, route.path)
        builder = _RouteCases(route, expectations, is_public, seed, admin_identity, app)
        route_cases = builder.build()
        route_cases[1:1] = robustness_cases(builder, examples)
        route_cases.extend(authz_cases(builder))
        notes += not_covered_authz(builder)
        route_cases.extend(builder.missing_resource())
        delete = by_key.get(("DELETE", route.path))
        if route.method == "GET" and delete is not None and not is_public:
            deleting = _RouteCases(delete, expectations, is_public, seed, admin_identity, app)
            route_cases.extend(after_delete_case(builder, deleting))
        cases.extend(route_cases)
    if statuses:
        wanted = set(statuses)
        cases = [c for c in cases if c.code in wanted or (c.kind in ("success", "robustness") and 200 in wanted)]
    seen: dict[str, int] = {}
    unique: list[CaseSpec] = []
    for case in cases:
        count = seen.get(case.id, 0)
        seen[case.id] = count + 1
        unique.append(case if count == 0 else _renamed(case, count + 1))
    if notes:
        unique = [dataclasses.replace(case, notes=notes) for case in unique]
    return unique


def _renamed(case: CaseSpec, n: int) -> CaseSpec:
    # Two routes with the same method and path: FastAPI only ever reaches the first; keep ids unique.
    return case.with_route(dataclasses.replace(case.route, path=f"{case.route.path}#{n}"))


class _RouteCases:
    def __init__(
        self,
        route: RouteInfo,
        expectations: Expectations,
        is_public: bool,
        seed: int,
        admin_identity: bool = False,
        app: str | None = None,
    ) -> None:
        from pytest_xaio.matrix.authz import looks_admin

        self.route = route
        self.expectations = expectations
        self.is_public = is_public
        self.seed = seed
        self.app = app
        self.gen = Generator(route.body.defs if route.body else {}, seed, route.key)
        self._body = self._make_body()
        # Path params that name a choice (an enum, a Literal), not a row: a valid member is always there.
        self.choices = {
            p.name: Generator(p.defs, seed, p.name).valid(p.schema, p.name)
            for p in route.params_in("path")
            if missing_id(p.schema, p.defs, seed) is None and has_choices(p)
        }
        # Who sends the cases meant to get in: nobody on a public route, an admin on an admin route.
        if is_public:
            self.identity = "anon"
        elif route.auth == "bearer" and admin_identity and (route.admin or looks_admin(route.path)):
            self.identity = "admin"
        else:
            self.identity = "user"

    def build(self) -> list[CaseSpec]:
        route = self.route
        cases = [self.case("success", path_fixtures=self.path_names())]
        cases.extend(self._validation_cases())
        if route.auth is not None and not self.is_public:
            for name in _TOKEN_CASES[route.auth]:
                cases.append(
                    self.case(
                        name,
                        identity="anon",
                        auth_case=name,
                        path_fixtures=self.path_names(),
                        path=self.missing_path(),
                    )
                )
        elif route.auth is None and not self.is_public:
            cases.append(
                self.case(
                    "unprotected-route", identity="anon", path_fixtures=self.path_names(), path=self.missing_path()
                )
            )
        return cases

    def missing_resource(self) -> list[CaseSpec]:
        if any(missing_id(p.schema, p.defs, self.seed) is not None for p in self.route.params_in("path")):
            return [self.case("missing-resource", path=self.missing_path())]
        return []

    # --- the pieces of a request ----------------------------------------------------------------
    def path_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.route.params_in("path"))

    def resource_names(self) -> tuple[str, ...]:
        """Path params that name a row (an id), not a choice: what authorization and delete cases need."""
        return tuple(name for name in self.path_names() if name not in self.choices)

    def missing_path(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for param in self.route.params_in("path"):
            value = missing_id(param.schema, param.defs, self.seed)
            if value is None:
                value = Generator(param.defs, self.seed, param.name).valid(param.schema, param.name)
            values[param.name] = value
        return values

    def valid_params(self, location: str) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for param in self.route.params_in(location):
            if param.required:
                values[param.name] = Generator(param.defs, self.seed, param.name).valid(param.schema, param.name)
        return values

    def valid_body(self) -> tuple[Any, str | None]:
        return self._body

    def _make_body(self) -> tuple[Any, str | None]:
        body = self.route.body
        if body is None:
            return None, None
        value = self.gen.valid(body.schema, "body")
        errors = body.validate(value)
        for _ in range(3):  # constraints pydantic checks but leaves out of the JSON schema
            fixed = repaired(value, errors)
            if not errors or fixed is None:
                break
            value, errors = fixed, body.validate(fixed)
        if errors:
            return value, describe_errors(errors)
        return value, None

    def case(self, name: str, **overrides: Any) -> CaseSpec:
        route = self.route
        body, problem = self.valid_body()
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
            "code": KIND_CODES.get(CASE_KINDS[name], route.status),
            "expected": self.expectations.expected(name, route),
            "identity": self.identity,
            "app": self.app,
            "query": self.valid_params("query"),
            "headers": headers,
            "body": body,
            "send_body": route.body is not None,
            "body_problem": problem,
            "fill_fixtures": fill,
            "seed": self.seed,
            "path": dict(self.choices),
        }
        values.update(overrides)
        return CaseSpec(**values)

    def _with_params(self, location: str) -> list[tuple[Param, Any]]:
        return [
            (p, v) for p in self.route.params_in(location) if (v := self.valid_params(location).get(p.name)) is not None
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
                cases.append(self.case(name, **{"path": self.missing_path(), "fill_fixtures": (), **change}))
        return cases

    def _wrong_type(self) -> dict[str, Any] | None:
        body = self.route.body
        valid, problem = self.valid_body()
        if body is not None and problem is None and body.encoding != "json":
            # Form fields are all text on the wire: only a number or boolean field can get the wrong type.
            if isinstance(valid, dict):
                properties = self.gen.resolve(body.schema).get("properties", {})
                for key, schema in properties.items():
                    kind = scalar_type_of(self.gen, schema)
                    text = "not-a-boolean" if kind == "boolean" else "not-a-number"
                    changed = {**valid, key: text}
                    if kind in ("integer", "number", "boolean") and body.validate(changed):
                        return {"body": changed}
        elif body is not None and problem is None:
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
            if scalar_type(param) in ("integer", "number", "boolean") and not param.validate("not-a-number"):
                return {"query": {**self.valid_params("query"), param.name: "not-a-number"}}
        for param in self.route.params_in("path"):
            if param.name in self.choices and choice_type(param) == "string":
                continue  # any text is the right type for a string enum: its case is invalid-enum
            if not param.validate("not-a-number"):
                return {"path": {**self.missing_path(), param.name: "not-a-number"}}
        return None

    def _missing_field(self) -> dict[str, Any] | None:
        body = self.route.body
        valid, problem = self.valid_body()
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
                return {"query": {k: v for k, v in self.valid_params("query").items() if k != param.name}}
        for param in self.route.params_in("header"):
            if param.required:
                return {"headers": {k: v for k, v in self.case("success").headers.items() if k != param.name}}
        return None

    def _outside_enum(self) -> dict[str, Any] | None:
        body = self.route.body
        valid, problem = self.valid_body()
        if body is not None and problem is None:
            for path in self.gen.walk_enums(body.schema, valid):
                changed = replace_at(valid, path, NOT_A_CHOICE)
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
                return {"query": {**self.valid_params("query"), param.name: NOT_A_CHOICE}}
        for param in self.route.params_in("path"):
            if param.name in self.choices and not param.validate(NOT_A_CHOICE):
                return {"path": {**self.missing_path(), param.name: NOT_A_CHOICE}}
        return None
