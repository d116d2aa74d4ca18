"""The ``case`` a matrix test receives: ``case.call()`` sends the request, ``case.validate()`` judges it."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest

from pytest_xaio.matrix.cases import CREDENTIAL_FIXTURES, CaseSpec
from pytest_xaio.matrix.report import describe_failure
from pytest_xaio.matrix.routes import RouteInfo

__all__ = ["Case"]

_BAD_API_KEY = "xaio-invalid-key"
_BAD_BASIC = "Basic !!!xaio-not-base64"
_TOKEN_METHODS = {
    "malformed-header": "malformed",
    "expired-token": "expired",
    "wrong-signature": "wrong_signature",
    "alg-none": "alg_none",
}
_PATH_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")


@dataclass
class _Sent:
    """What was sent, kept for the report when the app raised instead of answering."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""


class Case:
    """One endpoint-matrix case (a route, a kind of request, the statuses that pass).

    Example::

        @pytest.mark.endpoint_matrix
        def test_endpoints(case):
            response = case.call()
            case.validate(response)

    ``case.method``, ``case.path``, ``case.name`` (``expired-token``...), ``case.kind``
    (``success``, ``validation``, ``unauthenticated``, ``not_found``), ``case.expected`` and
    ``case.body`` (the generated body) and ``case.request`` (the test's fixture request) are there for
    ``pytest_xaio_payload(case)`` and for tests that add their own checks.
    """

    __test__ = False

    def __init__(self, spec: CaseSpec, request: pytest.FixtureRequest) -> None:
        self.spec = spec
        self._request = request
        self.response: Any = None
        self._sent: Any = None
        self._from_hook = False

    # --- what the case is -----------------------------------------------------------------------
    @property
    def route(self) -> RouteInfo:
        return self.spec.route

    @property
    def method(self) -> str:
        return self.spec.route.method

    @property
    def path(self) -> str:
        return self.spec.route.path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def expected(self) -> tuple[int, ...]:
        return self.spec.expected

    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def request(self) -> pytest.FixtureRequest:
        """The test's fixture request (``case.request.getfixturevalue("xaio_user")`` in a payload hook)."""
        return self._request

    @property
    def body(self) -> Any:
        return json.loads(json.dumps(self.spec.body))  # a copy the hook may change freely

    def __repr__(self) -> str:
        return f"<matrix case {self.id}>"

    # --- sending --------------------------------------------------------------------------------
    def call(self, client: Any = None, **request_kwargs: Any) -> Any:
        """Send this case's request (with the right client) and return the response."""
        spec = self.spec
        route = spec.route
        credential = self._credential()
        path_values = self._path_values()
        query = dict(spec.query)
        body = spec.body
        if spec.uses_payload:
            payload = self._request.config.hook.pytest_xaio_payload(case=self)
            if payload is not None:
                body = payload
                self._from_hook = True
            elif spec.body_problem and spec.kind in ("success", "not_found"):
                pytest.skip(
                    f"could not generate a valid body for {route.key} ({spec.body_problem}); "
                    "return one from pytest_xaio_payload(case) in conftest.py"
                )
        body, query = self._fill_from_fixtures(body, query, fill_body=not self._from_hook)
        headers = dict(spec.headers)
        headers.update(self._auth_headers(credential, query))
        url = _PATH_PARAM.sub(lambda m: _quote(path_values[m.group(1)]), route.path)
        if client is None:
            use_anon = spec.anonymous or route.auth in CREDENTIAL_FIXTURES
            client = self._request.getfixturevalue("xaio_anon_client" if use_anon else "xaio_client")
        kwargs: dict[str, Any] = {"params": query or None, "headers": headers}
        if spec.send_body:
            kwargs.update(_encode_body(route, body))
        kwargs.update(request_kwargs)
        sent_body = kwargs.get("json", kwargs.get("data"))
        sent_headers = {**dict(getattr(client, "headers", {}) or {}), **dict(kwargs.get("headers") or {})}
        self._sent = _Sent(
            route.method,
            url + (f"?{urlencode(query, doseq=True)}" if query else ""),
            sent_headers,
            json.dumps(sent_body, default=str).encode() if sent_body is not None else b"",
        )
        error: Exception | None = None
        try:
            self.response = client.request(route.method, url, **kwargs)
        except Exception as exc:  # the client re-raises the app's exception: report it as the 500 it is
            error = exc
        if error is not None:
            pytest.fail(
                describe_failure(
                    case_id=self.id,
                    what=f"case {self.name}",
                    expected=self.expected,
                    status=f"an exception ({type(error).__name__}: {error})",
                    request=self._sent,
                    response=None,
                    hint=f"an unhandled exception in the app is a 500 for its clients{_where(error)}",
                    extra_secret_headers=self._secret_names(),
                ),
                pytrace=False,
            )
        self._sent = getattr(self.response, "request", None) or self._sent
        return self.response

    def _credential(self) -> Any:
        """The API key / basic credentials a non-bearer route needs for its non-401 cases."""
        spec = self.spec
        fixture = CREDENTIAL_FIXTURES.get(spec.route.auth or "")
        if fixture is None or spec.anonymous or spec.auth_case is not None or spec.name == "unprotected-route":
            return None
        value = self._fixture(fixture)
        if value is None:
            pytest.skip(
                f"{spec.route.key} authenticates with {spec.route.auth}; add a fixture named "
                f"{fixture} returning valid credentials to run this case"
            )
        return value

    def _path_values(self) -> dict[str, Any]:
        spec = self.spec
        values: dict[str, Any] = dict(spec.path)
        for name in spec.path_fixtures:
            value = self._fixture(name)
            if value is not None:
                values[name] = _as_id(value)
            elif name not in values:
                pytest.skip(
                    f"{spec.route.key} needs an existing {{{name}}}: add a fixture named {name!r} "
                    f"(conftest.py) that creates the row and returns its id"
                )
        return values

    def _fill_from_fixtures(self, body: Any, query: dict[str, Any], *, fill_body: bool) -> tuple[Any, dict[str, Any]]:
        # Only id-like fields: filling `name` or `cache` from same-named fixtures would be a surprise.
        for name in self.spec.fill_fixtures:
            if not (name == "id" or name.endswith("_id")):
                continue
            value = self._fixture(name)
            if value is None:
                continue
            if name in query:
                query[name] = _as_id(value)
            elif fill_body and isinstance(body, dict) and name in body:
                body = {**body, name: _as_id(value)}
        return body, query

    def _fixture(self, name: str) -> Any:
        try:
            return self._request.getfixturevalue(name)
        except pytest.FixtureLookupError:
            return None

    def _auth_headers(self, credential: Any, query: dict[str, Any]) -> dict[str, str]:
        route = self.spec.route
        auth_case = self.spec.auth_case
        if route.auth == "bearer" and auth_case in _TOKEN_METHODS:
            tokens = self._request.getfixturevalue("xaio_token")
            token = getattr(tokens, _TOKEN_METHODS[auth_case])()
            return {"Authorization": f"Bearer {token}"}
        if route.auth == "basic":
            if auth_case == "malformed-header":
                return {"Authorization": _BAD_BASIC}
            if credential is not None:
                user, password = credential
                raw = base64.b64encode(f"{user}:{password}".encode()).decode()
                return {"Authorization": f"Basic {raw}"}
        if route.auth == "apikey" and route.api_key is not None:
            key = _BAD_API_KEY if auth_case == "malformed-header" else credential
            if key is None:
                return {}
            if route.api_key.location == "query":
                query[route.api_key.name] = str(key)
                return {}
            if route.api_key.location == "cookie":
                return {"cookie": f"{route.api_key.name}={key}"}
            return {route.api_key.name: str(key)}
        return {}

    def _secret_names(self) -> tuple[str, ...]:
        key = self.spec.route.api_key
        return (key.name,) if key is not None else ()

    # --- judging --------------------------------------------------------------------------------
    def validate(self, response: Any = None) -> None:
        """Fail with a readable report unless the status is expected (and a 2xx body fits the
        route's response model)."""
        response = self.response if response is None else response
        if response is None:
            pytest.fail(f"{self.id}: call case.call() before case.validate()", pytrace=False)
        status = int(response.status_code)
        if status not in self.expected:
            self._fail(response, f"case {self.name}", self._hint(status))
        response_field = self.spec.route.response_field
        if self.kind == "success" and 200 <= status < 300 and response_field is not None and response.content:
            from pytest_xaio.matrix.routes import _field_errors

            try:
                data = response.json()
            except ValueError:
                self._fail(response, "response body is not JSON", None)
            errors = _field_errors(response_field, data)
            if errors:
                first = errors[0]
                where = (
                    ".".join(str(x) for x in first.get("loc", ()) if x != "body") if isinstance(first, Mapping) else ""
                )
                message = first.get("msg", first) if isinstance(first, Mapping) else first
                self._fail(response, "response does not match the response model", f"{where or 'body'}: {message}")

    def _hint(self, status: int) -> str | None:
        spec = self.spec
        if spec.name == "unprotected-route":
            return (
                f"{spec.route.key} has no auth dependency and is not declared public; without a token it "
                f"answered {status}. Add the auth dependency (e.g. Depends(get_current_user)) or declare it "
                f"public: xaio_public_routes = {spec.route.key} or endpoint_matrix(public=[...])"
            )
        if status >= 500:
            return "the app answered a server error"
        if spec.kind == "unauthenticated" and status < 400:
            return f"the app accepted a request with {spec.name.replace('-', ' ')}"
        if spec.kind == "not_found" and status < 400:
            return f"the route answered {status} for an id that does not exist"
        if spec.kind == "success" and status == 422 and self._from_hook:
            return "the app rejected the body pytest_xaio_payload(case) returned"
        if spec.kind == "success" and status == 422:
            return "the app rejected the generated request; return your own body from pytest_xaio_payload(case)"
        if spec.kind == "unauthenticated" and status in (401, 403, 404):
            return "if this is how your app answers, set xaio_expected_status (e.g. unauthenticated = 403)"
        return None

    def _fail(self, response: Any, what: str, hint: str | None) -> None:
        pytest.fail(
            describe_failure(
                case_id=self.id,
                what=what,
                expected=self.expected,
                status=response.status_code,
                request=getattr(response, "request", None) or self._sent,
                response=response,
                hint=hint,
                extra_secret_headers=self._secret_names(),
            ),
            pytrace=False,
        )


def _where(error: BaseException) -> str:
    import traceback

    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f"; raised at {last.filename}:{last.lineno}" + (f": {last.line}" if last.line else "")


def _as_id(value: Any) -> Any:
    if isinstance(value, (str, int, float, uuid.UUID)):
        return value
    if isinstance(value, Mapping) and "id" in value:
        return value["id"]
    return getattr(value, "id", value)


def _quote(value: Any) -> str:
    from urllib.parse import quote

    return quote(str(value), safe="")


def _encode_body(route: RouteInfo, body: Any) -> dict[str, Any]:
    encoding = route.body.encoding if route.body is not None else "json"
    if encoding == "json":
        return {"json": body}
    if not isinstance(body, Mapping):
        return {"data": body}
    if encoding == "form":
        return {"data": dict(body)}
    properties = route.body.schema.get("properties", {}) if route.body is not None else {}
    files = {
        k: (f"{k}.txt", str(v).encode(), "text/plain") for k, v in body.items() if _is_binary(properties.get(k, {}))
    }
    data = {k: v for k, v in body.items() if k not in files}
    return {"data": data, "files": files or {"xaio": ("xaio.txt", b"", "text/plain")}}


def _is_binary(schema: Mapping[str, Any]) -> bool:
    if schema.get("format") == "binary" or schema.get("contentMediaType") == "application/octet-stream":
        return True
    options = schema.get("anyOf") or schema.get("oneOf") or []
    return any(_is_binary(o) for o in options) or (
        schema.get("type") == "array" and _is_binary(schema.get("items", {}))
    )
