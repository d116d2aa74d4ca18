"""The ``case`` a matrix test receives: ``case.call()`` sends the request, ``case.validate()`` judges it."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest

from pytest_xaio.matrix.cases import CREDENTIAL_FIXTURES, CaseSpec
from pytest_xaio.matrix.report import describe_failure
from pytest_xaio.matrix.responses import check_body, status_ok
from pytest_xaio.matrix.routes import RouteInfo
from pytest_xaio.matrix.wire import as_id, encode_body, quote, where

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
    (``success``, ``robustness``, ``validation``, ``unauthenticated``, ``forbidden``, ``not_found``),
    ``case.expected`` (empty: any status below 500) and
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
        self._clients: dict[str, Any] = {}
        self._users: dict[str, Any] = {}

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
        """Send this case's request (with the right client and identity) and return the response."""
        spec = self.spec
        if spec.before is not None:
            self._before(spec.before, client)
        if spec.examples:
            from pytest_xaio.matrix.examples import run_examples

            self.response = run_examples(self, client, request_kwargs)
            return self.response
        client, url, kwargs = self.prepare(spec, client, request_kwargs)
        self.response = self.send(client, spec.route.method, url, kwargs)
        return self.response

    def prepare(
        self, spec: CaseSpec, client: Any = None, request_kwargs: dict[str, Any] | None = None, body: Any = None
    ) -> tuple[Any, str, dict[str, Any]]:
        """The client, URL and request arguments for ``spec`` (``body`` replaces the generated one)."""
        route = spec.route
        credential = self._credential(spec)
        path_values = self._path_values(spec)
        query = dict(spec.query)
        if body is None:
            body = spec.body
            if spec.uses_payload:
                payload = self._request.config.hook.pytest_xaio_payload(case=self)
                if payload is not None:
                    body = payload
                    self._from_hook = True
                elif spec.body_problem and spec.kind in ("success", "not_found", "forbidden", "robustness"):
                    pytest.skip(
                        f"could not generate a valid body for {route.key} ({spec.body_problem}); "
                        "return one from pytest_xaio_payload(case) in conftest.py"
                    )
        body, query = self._fill_from_fixtures(spec, body, query, fill_body=not self._from_hook)
        headers = dict(spec.headers)
        headers.update(self._identity_headers(spec))
        headers.update(self._auth_headers(spec, credential, query))
        url = _PATH_PARAM.sub(lambda m: quote(path_values[m.group(1)]), route.path.split("#")[0])
        kwargs: dict[str, Any] = {"params": query or None, "headers": headers}
        if spec.send_body:
            kwargs.update(encode_body(route, body))
        if route.response.is_redirect:
            kwargs["follow_redirects"] = False  # the redirect is the answer to judge
        kwargs.update(request_kwargs or {})
        return (client if client is not None else self._client()), url, kwargs

    def send(self, client: Any, method: str, url: str, kwargs: dict[str, Any], *, report: bool = True) -> Any:
        """One request; an exception the app raised fails the case as the 500 it is (or is returned)."""
        try:
            response = client.request(method, url, **kwargs)
        except Exception as exc:  # the client re-raises the app's exception: report it as the 500 it is
            # What was sent, rebuilt only now: a request that got an answer carries its own.
            query = kwargs.get("params") or {}
            sent_body = kwargs.get("json", kwargs.get("data"))
            self._sent = _Sent(
                method,
                url + (f"?{urlencode(query, doseq=True)}" if query else ""),
                {**dict(getattr(client, "headers", {}) or {}), **dict(kwargs.get("headers") or {})},
                json.dumps(sent_body, default=str).encode() if sent_body is not None else b"",
            )
            if not report:
                return exc
            pytest.fail(
                describe_failure(
                    case_id=self.id,
                    what=f"case {self.name}",
                    expected=self.expected,
                    status=f"an exception ({type(exc).__name__}: {exc})",
                    request=self._sent,
                    response=None,
                    hint=f"an unhandled exception in the app is a 500 for its clients{where(exc)}",
                    extra_secret_headers=self._secret_names(),
                ),
                pytrace=False,
            )
        self._sent = getattr(response, "request", None)
        return response

    def _before(self, spec: CaseSpec, client: Any) -> None:
        """after-delete: the DELETE first; when it does not succeed there is nothing to look for."""
        client, url, kwargs = self.prepare(spec, client)
        response = self.send(client, spec.route.method, url, kwargs, report=False)
        status = getattr(response, "status_code", None)
        if not isinstance(status, int) or not 200 <= status < 300:
            what = f"answered {status}" if isinstance(status, int) else f"raised {type(response).__name__}"
            pytest.skip(f"{spec.route.key} {what}, so there is no deleted resource to GET (its own cases judge it)")

    def _client(self) -> Any:
        """The session's client of the case's app (matrix/clients.py), its DB dependency on this test's
        database; identities travel in each request's headers."""
        if "anon" not in self._clients:
            from pytest_xaio.matrix.clients import case_client

            self._clients["anon"] = case_client(self._request, self.spec.app, self.spec.route.sub_app)
        return self._clients["anon"]

    def _identity_headers(self, spec: CaseSpec) -> dict[str, str]:
        if spec.identity == "anon" or spec.auth_case is not None or spec.route.auth in CREDENTIAL_FIXTURES:
            return {}
        tokens = self._tokens()
        if spec.identity == "user":
            return dict(tokens.headers())
        return dict(tokens.headers(tokens.for_user(self.user(spec.identity))))

    def _tokens(self) -> Any:
        """``xaio_token`` for this case. In a run of cases sharing one user row, with the plugin's own
        ``xaio_token`` and ``xaio_user`` in force, it is the session's token factory bound to that
        row: what the fixture returns, without setting up its chain of four fixtures per case
        (about a tenth of a case's time). Otherwise (a conftest overrides either one) the fixture."""
        request = self._request
        if "xaio_token" not in request.fixturenames and _own_token_fixtures(request):
            from pytest_xaio.client import shared_user

            held = shared_user(request)
            if held is not None:  # the row xaio_user returns for this case
                from pytest_xaio.auth import token_factory
                from pytest_xaio.errors import exit_on_config_error

                with exit_on_config_error():
                    return token_factory(request.config, held)
        return request.getfixturevalue("xaio_token")

    def user(self, identity: str) -> Any:
        """The user behind ``identity``: ``xaio_user``, an admin, or a second user (made once per case)."""
        if identity == "user":
            return self._request.getfixturevalue("xaio_user")
        if identity not in self._users:
            from pytest_xaio.auth import default_user, default_user_id
            from pytest_xaio.errors import exit_on_config_error
            from pytest_xaio.matrix.authz import admin_attrs

            factory = self._request.getfixturevalue("xaio_user_factory")
            attrs = admin_attrs(self._request.config) if identity == "admin" else {}
            with exit_on_config_error():
                made = (
                    factory(**attrs)
                    if factory.makes_rows
                    else default_user(id=default_user_id(self._request.config, f"xaio-{identity}-user"), **attrs)
                )
            first = self._request.getfixturevalue("xaio_user")
            if _user_id(made) == _user_id(first):
                pytest.skip(
                    f"xaio_user_factory made a user with the same id as xaio_user ({_user_id(made)!r}); "
                    "make pytest_xaio_create_user insert a new row on every call"
                )
            self._users[identity] = made
        return self._users[identity]

    def _credential(self, spec: CaseSpec) -> Any:
        """The API key / basic credentials a non-bearer route needs for its non-401 cases."""
        fixture = CREDENTIAL_FIXTURES.get(spec.route.auth or "")
        wrong_password = spec.auth_case == "wrong-password"  # the right user's name is needed
        if fixture is None or spec.name == "unprotected-route":
            return None
        if not wrong_password and (spec.anonymous or spec.auth_case is not None):
            return None
        value = self._fixture(fixture)
        if value is None:
            pytest.skip(
                f"{spec.route.key} authenticates with {spec.route.auth}; add a fixture named "
                f"{fixture} returning valid credentials to run this case"
            )
        return value

    def _path_values(self, spec: CaseSpec) -> dict[str, Any]:
        values: dict[str, Any] = dict(spec.path)
        user_before = "xaio_user" in self._request.fixturenames
        for name in spec.path_fixtures:
            value = self._fixture(name)
            if value is not None:
                values[name] = as_id(value)
            elif name not in values:
                pytest.skip(
                    f"{spec.route.key} needs an existing {{{name}}}: add a fixture named {name!r} "
                    f"(conftest.py) that creates the row and returns its id"
                )
        if spec.name == "other-users-resource" and not user_before and "xaio_user" not in self._request.fixturenames:
            # Only a row the fixtures made for xaio_user has an owner the second user is not.
            fixtures = ", ".join(spec.path_fixtures)
            pytest.skip(
                f"the fixtures {fixtures} do not use xaio_user, so their rows have no owner to keep a second "
                "user out; make them depend on xaio_user (the owner) to check other users' access"
            )
        return values

    def _fill_from_fixtures(
        self, spec: CaseSpec, body: Any, query: dict[str, Any], *, fill_body: bool
    ) -> tuple[Any, dict[str, Any]]:
        # Only id-like fields: filling `name` or `cache` from same-named fixtures would be a surprise.
        for name in spec.fill_fixtures:
            if not (name == "id" or name.endswith("_id")):
                continue
            value = self._fixture(name)
            if value is None:
                continue
            if name in query:
                query[name] = as_id(value)
            elif fill_body and isinstance(body, dict) and name in body:
                body = {**body, name: as_id(value)}
        return body, query

    def _fixture(self, name: str) -> Any:
        try:
            return self._request.getfixturevalue(name)
        except pytest.FixtureLookupError:
            return None

    def _auth_headers(self, spec: CaseSpec, credential: Any, query: dict[str, Any]) -> dict[str, str]:
        route = spec.route
        auth_case = spec.auth_case
        if route.auth == "bearer" and auth_case in _TOKEN_METHODS:
            # Expired, re-signed and unsigned tokens name xaio_user, so an app that skips the check
            # finds a real user and answers 200; a malformed one names nobody and needs no user row.
            if auth_case == "malformed-header":
                tokens = self._request.getfixturevalue("_xaio_token_factory")
            else:
                tokens = self._tokens()
            token = getattr(tokens, _TOKEN_METHODS[auth_case])()
            return {"Authorization": f"Bearer {token}"}
        if route.auth == "basic":
            if auth_case == "malformed-header":
                return {"Authorization": _BAD_BASIC}
            if credential is not None:
                user, password = credential
                if auth_case == "wrong-password":
                    password = f"{password}-xaio-wrong"
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
        """Fail with a readable report unless the status is expected (and a 2xx answer fits the
        route's declared response class: the response model for JSON, the content type otherwise)."""
        response = self.response if response is None else response
        if response is None:
            pytest.fail(f"{self.id}: call case.call() before case.validate()", pytrace=False)
        if self.spec.examples:
            return  # every drawn request was judged as it was sent
        status = int(response.status_code)
        if not status_ok(self.expected, status):
            self._fail(response, f"case {self.name}", self._hint(status))
        if self.kind in ("success", "robustness"):
            problem = check_body(self.route.response, self.route.response_field, response)
            if problem is not None:
                self._fail(response, problem[0], None, problem=problem[1])

    def _hint(self, status: int) -> str | None:
        spec = self.spec
        if spec.name == "unprotected-route":
            return (
                f"{spec.route.key} has no auth dependency and is not declared public; without a token it "
                f"answered {status}. Add the auth dependency (e.g. Depends(get_current_user)) or declare it "
                f"public: xaio_public_routes = {spec.route.key} or endpoint_matrix(public=[...])"
            )
        if spec.name == "after-delete":
            return f"the DELETE succeeded, yet GET still answered {status}: the deleted resource is still served"
        if spec.name == "other-users-resource" and status < 400:
            return (
                f"a second user (from xaio_user_factory) got {status} for a resource the fixtures made for "
                "xaio_user: check the owner in this route, as the other methods on the path may do. If every "
                f'user may see it: endpoint_matrix(expect={{"{spec.route.key}": {{"other-users-resource": {status}}}}})'
            )
        if spec.name == "not-admin" and status < 400:
            return f"a normal user (xaio_user) got {status} from a route guarded by an admin dependency"
        if spec.name == "unguarded-admin-route" and status < 400:
            return (
                f"{spec.route.path} looks like an admin route, but a normal user (xaio_user) got {status} and "
                "no dependency of xaio_admin_dependencies guards it; add the admin dependency, or, if every "
                f'user may call it: endpoint_matrix(expect={{"{spec.route.key}": '
                f'{{"unguarded-admin-route": {status}}}}})'
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

    def _fail(self, response: Any, what: str, hint: str | None, problem: str | None = None) -> None:
        pytest.fail(
            describe_failure(
                case_id=self.id,
                what=what,
                problem=problem,
                expected=self.expected,
                status=response.status_code,
                request=getattr(response, "request", None) or self._sent,
                response=response,
                hint=hint,
                extra_secret_headers=self._secret_names(),
            ),
            pytrace=False,
        )


_own_fixtures_key = pytest.StashKey[dict[str, bool]]()


def _own_token_fixtures(request: pytest.FixtureRequest) -> bool:
    """True when the ``xaio_token`` and ``xaio_user`` this test sees are the plugin's own (looked up
    once per matrix test; any doubt, such as another pytest's internals, answers False: the fixture)."""
    answers = request.config.stash.setdefault(_own_fixtures_key, {})
    node = request.node
    test = node.nodeid.split("[", 1)[0]
    if test not in answers:
        answers[test] = all(_defined_here(_in_force(request, name, node)) for name in ("xaio_token", "xaio_user"))
    return answers[test]


def _in_force(request: pytest.FixtureRequest, name: str, node: Any) -> Any:
    """The definition of fixture ``name`` that ``node`` gets (the most specific one), or None."""
    manager = getattr(request, "_fixturemanager", None)
    lookup = getattr(manager, "getfixturedefs", None)
    if lookup is None:
        return None
    try:
        found = lookup(name, node)  # pytest >= 8.1
    except (TypeError, AttributeError):
        try:
            found = lookup(name, node.nodeid)  # pytest 8.0 takes the node id
        except Exception:
            return None
    return found[-1] if found else None


def _defined_here(fixturedef: Any) -> bool:
    func = getattr(fixturedef, "func", None)
    return getattr(func, "__module__", None) == "pytest_xaio.client"


def _user_id(user: Any) -> Any:
    return user.get("id") if isinstance(user, dict) else getattr(user, "id", user)
