"""The cases that need more than one identity or more than one request: authorization (another
user's resource, an admin route as a normal user), robustness (edge values, Hypothesis examples)
and use after delete.

Open API testers have one identity and no database, so they cannot ask "may user B read user A's
row?"; the matrix can, because path ids come from fixtures that create rows for ``xaio_user`` and
``xaio_user_factory`` makes a second user. Built at collection time, from the same route builder
as the other cases (``cases._RouteCases``).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from pytest_xaio.config import get_settings
from pytest_xaio.errors import config_error
from pytest_xaio.matrix.edges import edge_body, edge_query

# cases._RouteCases and cases.CaseSpec (typed Any: cases imports this module, not the other way round).
_RouteCases = Any
CaseSpec = Any

__all__ = ["admin_attrs", "after_delete_case", "authz_cases", "looks_admin", "not_covered_authz", "robustness_cases"]

_SCHEMES = {"apikey": ("an API key", "xaio_api_key"), "basic": ("HTTP Basic", "xaio_basic_auth")}

_ADMIN_SEGMENT = re.compile(r"^(admin|admins|administration|superuser|superusers)([-_.].*)?$", re.IGNORECASE)


def looks_admin(path: str) -> bool:
    """``/admin/...``, ``/api/admin/stats``, ``/admin-panel``: a path segment that says "admins only"."""
    return any(_ADMIN_SEGMENT.match(segment) for segment in path.split("#")[0].strip("/").split("/"))


def admin_attrs(config: pytest.Config) -> dict[str, Any]:
    """``xaio_admin_attrs`` lines (``is_superuser = true``, ``role = admin``) as factory keyword arguments."""
    attrs: dict[str, Any] = {}
    for line in get_settings(config).matrix.admin_attrs:
        name, sep, raw = line.partition("=")
        name, raw = name.strip(), raw.strip()
        if not sep or not name.isidentifier():
            config_error(
                f"xaio_admin_attrs line {line!r} is not name = value",
                "write lines like is_superuser = true or role = admin",
            )
        try:
            attrs[name] = json.loads(raw.lower() if raw.lower() in ("true", "false", "null") else raw)
        except ValueError:
            attrs[name] = raw  # a bare word is a string: role = admin
    return attrs


def authz_cases(builder: _RouteCases) -> list[CaseSpec]:
    """``-403-not-admin``, ``-403-unguarded-admin-route`` and ``-403-other-users-resource``."""
    route = builder.route
    if builder.is_public or route.auth != "bearer":
        return []  # identities are bearer tokens minted for users; API keys and passwords have none
    cases: list[CaseSpec] = []
    fixtures = builder.path_names()
    if route.admin:
        cases.append(builder.case("not-admin", identity="user", path_fixtures=fixtures))
    elif looks_admin(route.path):
        cases.append(builder.case("unguarded-admin-route", identity="user", path_fixtures=fixtures))
    elif builder.resource_names():  # an enum path param names a choice, not a row someone owns
        cases.append(builder.case("other-users-resource", identity="other", path_fixtures=fixtures))
    return cases


def not_covered_authz(builder: _RouteCases) -> tuple[str, ...]:
    """Why an API-key or HTTP Basic route gets no authorization case, for the end-of-run table: those
    need a second identity, and the matrix holds one credential for such routes, not one per user."""
    route = builder.route
    if builder.is_public or route.auth not in _SCHEMES:
        return ()
    if route.admin or looks_admin(route.path):
        missing = "not-admin" if route.admin else "unguarded-admin-route"
    elif builder.resource_names():
        missing = "other-users-resource"
    else:
        return ()
    scheme, fixture = _SCHEMES[route.auth]
    return (
        f"{route.key}-403-{missing}: not covered ({scheme} route: the matrix has one credential for it, "
        f"from {fixture}, and cannot make a second user's)",
    )


def robustness_cases(builder: _RouteCases, examples: int) -> list[CaseSpec]:
    """``-edge-values`` (always, when the route takes input) and ``-examples`` (with ``examples=N``)."""
    route = builder.route
    body = route.body
    cases: list[CaseSpec] = []
    fixtures = builder.path_names()
    valid, problem = builder.valid_body()
    edged = None
    if body is not None and problem is None:
        edged = edge_body(builder.gen, body.schema, valid, body.validate, form=body.encoding != "json")
    query = {**builder.valid_params("query"), **edge_query(route.params_in("query"))}
    query_changed = query != builder.valid_params("query")
    if edged is not None or query_changed:
        cases.append(
            builder.case(
                "edge-values",
                path_fixtures=fixtures,
                body=edged if edged is not None else valid,
                query=query,
            )
        )
    if examples > 0 and (body is not None or route.params_in("query")):
        cases.append(builder.case("examples", path_fixtures=fixtures, examples=examples))
    return cases


def after_delete_case(getter: _RouteCases, deleter: _RouteCases) -> list[CaseSpec]:
    """``GET /x/{id}-404-after-delete``: DELETE the fixture's row, then GET it: 404 or 410."""
    fixtures = getter.path_names()
    if not getter.resource_names() or set(fixtures) != set(deleter.path_names()):
        return []
    delete = deleter.case("success", path_fixtures=fixtures)
    return [getter.case("after-delete", path_fixtures=fixtures, before=delete)]
