"""What status each matrix case expects: the case kinds, the ini overrides, a route's own ``responses=``
and the marker's per-route ``expect=``.

Precedence, most specific first: ``endpoint_matrix(expect={route: {case or kind: status}})``, then
``xaio_expected_status`` lines (a case name wins over its kind), then the kind's default. Statuses a
route declares itself in FastAPI's ``responses=`` are accepted on top of the ini/default ones when
they belong to the kind's family (a declared 400 for validation, a declared 410 for not-found...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_xaio.errors import config_error

if TYPE_CHECKING:
    from pytest_xaio.matrix.routes import RouteInfo

__all__ = ["BELOW_500", "CASE_KINDS", "KIND_CODES", "Expectations", "parse_expect"]

#: Case name -> kind. The kind's code is what the id shows; the expected status is configurable.
CASE_KINDS: dict[str, str] = {
    "success": "success",
    "edge-values": "robustness",
    "examples": "robustness",
    "invalid-type": "validation",
    "missing-field": "validation",
    "invalid-enum": "validation",
    "missing-auth": "unauthenticated",
    "malformed-header": "unauthenticated",
    "expired-token": "unauthenticated",
    "wrong-signature": "unauthenticated",
    "alg-none": "unauthenticated",
    "wrong-password": "unauthenticated",
    "unprotected-route": "unauthenticated",
    "not-admin": "forbidden",
    "unguarded-admin-route": "forbidden",
    "other-users-resource": "forbidden",
    "missing-resource": "not_found",
    "after-delete": "not_found",
}
KIND_CODES = {"validation": 400, "unauthenticated": 401, "forbidden": 403, "not_found": 404}
#: "Any status below 500" (robustness cases: the app may refuse an odd but valid request, not crash).
BELOW_500: tuple[int, ...] = ()
_DEFAULTS: dict[str, tuple[int, ...]] = {
    "other-users-resource": (403, 404),
    "after-delete": (404, 410),
}
#: Statuses a route's ``responses=`` may add to a kind's expected ones.
_FAMILIES: dict[str, frozenset[int]] = {
    "validation": frozenset({400, 422}),
    "unauthenticated": frozenset({401, 403}),
    "forbidden": frozenset({403, 404}),
    "not_found": frozenset({404, 410}),
}


def _key(raw: str) -> str | None:
    key = raw.strip()
    if key in KIND_CODES or key in ("success", "robustness"):
        return key
    key = key.replace("_", "-")
    if key == "not-found":
        return "not_found"
    return key if key in CASE_KINDS else None


def _codes(value: Any, where: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    if isinstance(value, str):
        try:
            codes = tuple(int(part) for part in value.replace(",", "|").split("|") if part.strip())
        except ValueError:
            codes = ()
    elif isinstance(value, Sequence) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        codes = tuple(int(v) for v in value)
    else:
        codes = ()
    if not codes:
        config_error(f"{where} has no status code", "write the status as a number, or several as 401|403 or [401, 403]")
    return codes


_KNOWN = ", ".join(sorted({*CASE_KINDS, *KIND_CODES, "success", "robustness"}))


def parse_expect(expect: Mapping[str, Any]) -> tuple[tuple[str, Mapping[str, tuple[int, ...]]], ...]:
    """``endpoint_matrix(expect={"POST /x/{id}": {"missing-resource": 200}})`` as checked, ordered data."""
    parsed: list[tuple[str, Mapping[str, tuple[int, ...]]]] = []
    if not isinstance(expect, Mapping):
        config_error(
            f"endpoint_matrix(expect=...) must be a dict, got {type(expect).__name__}",
            'write it as expect={"GET /path/{id}": {"missing-resource": 200}}',
        )
    for route, cases in expect.items():
        if not isinstance(cases, Mapping):
            config_error(
                f"endpoint_matrix(expect=...) entry {route!r} is not a dict of case -> status",
                f'write it as {{"{route}": {{"missing-resource": 200}}}}',
            )
        by_key: dict[str, tuple[int, ...]] = {}
        for raw, value in cases.items():
            key = _key(str(raw))
            if key is None:
                config_error(
                    f"endpoint_matrix(expect=...) for {route!r}: {raw!r} is not a case or kind",
                    f"use one of: {_KNOWN}",
                )
            by_key[key] = _codes(value, f"endpoint_matrix(expect=...) for {route!r}, {raw!r}")
        parsed.append((str(route), by_key))
    return tuple(parsed)


@dataclass(frozen=True)
class Expectations:
    """Expected statuses per kind and per case name (ini), and per route (the marker's ``expect=``)."""

    by_key: Mapping[str, tuple[int, ...]]
    per_route: tuple[tuple[str, Mapping[str, tuple[int, ...]]], ...] = field(default=())

    @classmethod
    def from_settings(
        cls, validation_status: int, lines: Iterable[str], expect: Mapping[str, Any] | None = None
    ) -> Expectations:
        by_key: dict[str, tuple[int, ...]] = {"validation": (validation_status,)}
        for line in lines:
            raw, sep, value = line.partition("=")
            key = _key(raw)
            if not sep or key is None:
                config_error(
                    f"xaio_expected_status line {line!r} is not kind = status",
                    f"use lines like 'unauthenticated = 403' or 'expired-token = 401|403'; kinds: {_KNOWN}",
                )
            by_key[key] = _codes(value, f"xaio_expected_status line {line!r}")
        return cls(by_key, parse_expect(expect or {}))

    def expected(self, name: str, route: RouteInfo) -> tuple[int, ...]:
        from pytest_xaio.matrix.routes import matches

        kind = CASE_KINDS[name]
        for pattern, by_key in self.per_route:
            if matches([pattern], route.method, route.path.split("#")[0]):
                for key in (name, kind):
                    if key in by_key:
                        return by_key[key]
        if kind == "robustness":
            return self.by_key.get(name, self.by_key.get(kind, BELOW_500))
        if name == "missing-auth" and name not in self.by_key and route.missing_auth_status is not None:
            return (route.missing_auth_status,)  # the security class answers before the app's own check
        if kind == "success":
            base = self.by_key.get(name, self.by_key.get(kind, (route.status,)))
            family = frozenset(c for c in route.declared if 200 <= c < 400)
        else:
            base = self.by_key.get(name, self.by_key.get(kind, _DEFAULTS.get(name, (KIND_CODES[kind],))))
            family = _FAMILIES[kind]
        extra = tuple(sorted(c for c in route.declared if c in family and c not in base))
        return (*base, *extra)
