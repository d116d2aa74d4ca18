"""Reading a FastAPI app's routes: methods, paths, parameters, body and auth, from the dependant tree.

What the matrix needs from FastAPI is read here and nowhere else, so the rest of the matrix works on
plain dataclasses. FastAPI is imported inside the functions (the plugin must load without it).
"""

from __future__ import annotations

import fnmatch
import functools
import inspect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_xaio.errors import config_error
from pytest_xaio.matrix.bodies import with_uploads
from pytest_xaio.matrix.responses import ResponseSpec, response_spec
from pytest_xaio.matrix.responses import field_errors as _field_errors
from pytest_xaio.resolve import resolve_object

__all__ = ["ApiKey", "Param", "RouteInfo", "matches", "read_app", "read_routes", "resolve_callable", "schema_of"]

Schema = dict[str, Any]

# Methods a matrix case is made for; HEAD/OPTIONS answers are the framework's, not the app's.
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Param:
    """One path/query/header/cookie parameter: its wire name, JSON schema and pydantic field."""

    name: str
    location: str
    required: bool
    schema: Schema
    defs: Schema
    field: Any = field(repr=False, compare=False)

    def validate(self, value: Any) -> bool:
        """Whether FastAPI would accept ``value`` for this parameter."""
        return _field_accepts(self.field, value)


@dataclass(frozen=True)
class ApiKey:
    """Where an ``APIKey*`` scheme reads its key: ``header``, ``query`` or ``cookie``, and the name."""

    location: str
    name: str


@dataclass(frozen=True)
class Body:
    """The request body: JSON schema of the whole body, how it is sent, and the field validating it."""

    schema: Schema
    defs: Schema
    required: bool
    encoding: str  # json, form or multipart
    field: Any = field(repr=False, compare=False)

    def validate(self, value: Any) -> list[Any]:
        """Pydantic's errors for ``value`` as a body (empty when valid); a multipart body's file
        fields are checked as the uploaded files they become (``bytes`` fields as their text)."""
        errors = _field_errors(self.field, value)
        if errors and self.encoding == "multipart" and not _field_errors(self.field, with_uploads(self.schema, value)):
            return []
        return errors


@dataclass(frozen=True)
class RouteInfo:
    """One method of one route, as the matrix sees it."""

    method: str
    path: str
    name: str
    status: int
    params: tuple[Param, ...]
    body: Body | None
    auth: str | None  # bearer, apikey, basic or None (no auth dependency)
    api_key: ApiKey | None = None
    response_field: Any = field(default=None, repr=False, compare=False)
    is_async: bool = False
    admin: bool = False  # a dependency in xaio_admin_dependencies guards it
    declared: tuple[int, ...] = ()  # statuses of FastAPI's responses= for the route
    response: ResponseSpec = field(default_factory=ResponseSpec, compare=False)
    missing_auth_status: int | None = None  # what the route's FastAPI security class answers without credentials
    sub_app: Any = field(default=None, repr=False, compare=False)  # the mounted FastAPI app the route is in

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def params_in(self, location: str) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.location == location)


def matches(patterns: Sequence[str], method: str, path: str) -> bool:
    """``/api/*`` matches a path; ``GET /health`` or ``* /admin/*`` match method and path."""
    for pattern in patterns:
        pattern = pattern.strip()
        if " " in pattern:
            want_method, _, want_path = pattern.partition(" ")
            if fnmatch.fnmatchcase(method.upper(), want_method.strip().upper()) and fnmatch.fnmatchcase(
                path, want_path.strip()
            ):
                return True
        elif fnmatch.fnmatchcase(path, pattern):
            return True
    return False


def resolve_callable(spec: str, what: str) -> Any:
    """Import ``module:attr.attr`` (as the ini settings name callables)."""
    return resolve_object(spec, setting=what)


def find_fastapi(app: Any) -> Any:
    """The FastAPI app itself, looking through middleware wrappers that keep it in ``.app``."""
    from pytest_xaio.matrix.mounts import fastapi_inside

    found = fastapi_inside(app)
    if found is None:
        config_error(
            f"the endpoint matrix needs a FastAPI app, got {type(app).__name__}",
            "point xaio_app (or endpoint_matrix(app=...)) at the FastAPI instance",
        )
    return found


def read_routes(
    app: Any, auth_dependencies: Sequence[Any] = (), admin_dependencies: Sequence[Any] = ()
) -> list[RouteInfo]:
    """Every (method, route) of the app's API routes, in the app's order."""
    return read_app(app, auth_dependencies, admin_dependencies)[0]


def read_app(
    app: Any, auth_dependencies: Sequence[Any] = (), admin_dependencies: Sequence[Any] = ()
) -> tuple[list[RouteInfo], list[str]]:
    """The app's API routes (mounted FastAPI sub-apps' included, under their prefix), and a line for
    each route the matrix does not cover (websockets, other mounts), saying why."""
    from pytest_xaio.matrix.mounts import walk_app

    found, notes = walk_app(find_fastapi(app))
    extra_auth = {id(_unwrap(dep)) for dep in auth_dependencies}
    admin_calls = {id(_unwrap(dep)) for dep in admin_dependencies}
    routes: list[RouteInfo] = []
    for where in found:
        route = where.route
        dependant = route.dependant
        params = tuple(_params(dependant))
        body = _body(route)
        auth, api_key = _auth(dependant, extra_auth)
        endpoint = getattr(route, "endpoint", None)
        admin = bool(admin_calls) and any(
            current.call is not None and id(_unwrap(current.call)) in admin_calls for current in _walk(dependant)
        )
        if admin and auth is None:
            auth = "bearer"  # the admin check reads the user, so it is authenticated however it does it
        spec = response_spec(route)
        declared = tuple(sorted(int(k) for k in (getattr(route, "responses", None) or {}) if str(k).isdigit()))
        for method in sorted(m for m in (route.methods or ()) if m in _METHODS):
            routes.append(
                RouteInfo(
                    method=method,
                    path=where.path,
                    name=str(getattr(route, "name", "") or ""),
                    status=int(route.status_code or spec.default_status or 200),
                    params=params,
                    body=body,
                    auth=auth,
                    api_key=api_key,
                    response_field=_checkable_response(route),
                    is_async=bool(endpoint is not None and inspect.iscoroutinefunction(endpoint)),
                    admin=admin,
                    declared=declared,
                    response=spec,
                    missing_auth_status=_missing_auth_status(route.dependant) if auth else None,
                    sub_app=where.owner,
                )
            )
    return routes, notes


def _walk(dependant: Any) -> Iterator[Any]:
    stack = [dependant]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(reversed(current.dependencies))


def _params(dependant: Any) -> Iterator[Param]:
    from pydantic import BaseModel

    seen: set[tuple[str, str]] = set()
    for current in _walk(dependant):
        for location, fields in (
            ("path", current.path_params),
            ("query", current.query_params),
            ("header", current.header_params),
            ("cookie", current.cookie_params),
        ):
            for model_field in fields:
                annotation = _strip_optional(model_field.field_info.annotation)
                if location != "path" and isinstance(annotation, type) and issubclass(annotation, BaseModel):
                    items: list[Any] = [_FieldOfModel(n, f) for n, f in annotation.model_fields.items()]
                else:
                    items = [model_field]
                for item in items:
                    name = _wire_name(item, location)
                    if (location, name) in seen:
                        continue
                    seen.add((location, name))
                    schema, defs = schema_of(item)
                    yield Param(name, location, bool(item.field_info.is_required()), schema, defs, item)


@dataclass
class _FieldOfModel:
    """A field of a query/header parameter model, shaped like FastAPI's ModelField where we use it."""

    name: str
    field_info: Any

    @property
    def alias(self) -> str:
        return str(self.field_info.alias or self.name)

    @property
    def _type_adapter(self) -> Any:
        from typing import Annotated, cast

        from pydantic import TypeAdapter

        info = self.field_info
        args = (info.annotation, *info.metadata)
        annotation: Any = cast(Any, Annotated)[args] if info.metadata else info.annotation
        return TypeAdapter(annotation)

    def validate(self, value: Any, values: Any = None, *, loc: tuple[Any, ...] = ()) -> tuple[Any, list[Any]]:
        from pydantic import ValidationError

        try:
            return self._type_adapter.validate_python(value), []
        except ValidationError as exc:
            return None, list(exc.errors())


def _wire_name(model_field: Any, location: str) -> str:
    alias = str(getattr(model_field, "alias", None) or model_field.name)
    if (
        location == "header"
        and alias == model_field.name
        and getattr(model_field.field_info, "convert_underscores", True)
    ):
        return alias.replace("_", "-")
    return alias


def _strip_optional(annotation: Any) -> Any:
    import types
    import typing

    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def schema_of(model_field: Any) -> tuple[Schema, Schema]:
    """The JSON schema (validation mode) of a field, and its ``$defs``."""
    from pydantic import TypeAdapter

    adapter = getattr(model_field, "_type_adapter", None)
    if adapter is None:
        adapter = TypeAdapter(model_field.field_info.annotation)
    try:
        schema = dict(adapter.json_schema(mode="validation"))
    except Exception:  # a type pydantic cannot describe: generation falls back, validation still judges
        return {}, {}
    defs = dict(schema.pop("$defs", {}))
    return schema, defs


def _body(route: Any) -> Body | None:
    from fastapi import params

    body_field = getattr(route, "body_field", None)
    if body_field is None:
        return None
    info = body_field.field_info
    if isinstance(info, params.File):
        encoding = "multipart"
    elif isinstance(info, params.Form):
        encoding = (
            "multipart" if getattr(info, "media_type", "") == "multipart/form-data" and _has_files(route) else "form"
        )
    else:
        encoding = "json"
    schema, defs = schema_of(body_field)
    return Body(schema, defs, bool(info.is_required()), encoding, body_field)


def _has_files(route: Any) -> bool:
    from fastapi import params

    return any(isinstance(f.field_info, params.File) for d in _walk(route.dependant) for f in d.body_params)


def _auth(dependant: Any, extra: set[int]) -> tuple[str | None, ApiKey | None]:
    """The strongest auth a route's dependencies require: bearer > basic > apikey > none."""
    from fastapi.security import HTTPBasic
    from fastapi.security.api_key import APIKeyBase
    from fastapi.security.base import SecurityBase

    kinds: set[str] = set()
    api_key: ApiKey | None = None
    for current in _walk(dependant):
        call = _unwrap(current.call) if current.call is not None else None
        if call is None:
            continue
        if id(call) in extra:
            kinds.add("bearer")
        elif isinstance(call, APIKeyBase):
            kinds.add("apikey")
            model = call.model
            location = getattr(model.in_, "value", model.in_)
            api_key = api_key or ApiKey(str(location), str(model.name))
        elif isinstance(call, HTTPBasic):
            kinds.add("basic")
        elif isinstance(call, SecurityBase):
            kinds.add("bearer")  # HTTPBearer, OAuth2*, OpenIdConnect: a token in Authorization
    for kind in ("bearer", "basic", "apikey"):
        if kind in kinds:
            return kind, api_key if kind == "apikey" else None
    return None, None


def _missing_auth_status(dependant: Any) -> int | None:
    """The status the route's first FastAPI security class raises for a request without credentials.

    ``OAuth2PasswordBearer`` answers 401 even in an app whose own token check raises 403, and
    ``HTTPBearer``'s answer changed between FastAPI versions: asking the class itself is exact. The
    security classes' ``__call__`` awaits nothing, so one ``send`` runs it to the end.
    """
    from fastapi.security.base import SecurityBase
    from starlette.exceptions import HTTPException
    from starlette.requests import Request

    for current in _walk(dependant):
        call = _unwrap(current.call) if current.call is not None else None
        if not isinstance(call, SecurityBase):
            continue
        scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
        try:
            result = call(Request(scope))  # type: ignore[operator]  # every security class is callable
            if inspect.iscoroutine(result):
                try:
                    result.send(None)
                finally:
                    result.close()
        except HTTPException as exc:
            return int(exc.status_code)
        except Exception:
            return None
        return None
    return None


def _unwrap(call: Any) -> Any:
    while isinstance(call, functools.partial):
        call = call.func
    try:
        return inspect.unwrap(call)
    except ValueError:
        return call


def _checkable_response(route: Any) -> Any:
    """The response field to check 2xx bodies against, unless the route reshapes its output."""
    response_field = getattr(route, "response_field", None)
    if response_field is None:
        return None
    reshaped = (getattr(route, "response_model_include", None), getattr(route, "response_model_exclude", None))
    if any(r is not None for r in reshaped) or any(
        getattr(route, flag, False)
        for flag in ("response_model_exclude_unset", "response_model_exclude_defaults", "response_model_exclude_none")
    ):
        return None
    return response_field


def _field_accepts(model_field: Any, value: Any) -> bool:
    return not _field_errors(model_field, value)
