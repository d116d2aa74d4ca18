"""The endpoint matrix's pure parts: reading routes, building cases and ids, generating bodies.

These import small FastAPI apps directly (no database); tests/test_matrix.py runs the matrix for real.
"""

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import pytest

pytest.importorskip("fastapi")

from fastapi import APIRouter, Depends, FastAPI, Header
from fastapi.security import APIKeyQuery, HTTPBasic
from pydantic import BaseModel

from pytest_xaio.matrix.bodies import Generator, missing_id
from pytest_xaio.matrix.cases import CaseSpec, Expectations, build_cases
from pytest_xaio.matrix.plugin import keyword_for_ids
from pytest_xaio.matrix.report import describe_failure, redact
from pytest_xaio.matrix.routes import matches, read_routes

APPS = Path(__file__).parent / "apps"


@pytest.fixture(scope="module")
def apps() -> Iterator[dict[str, ModuleType]]:
    sys.path.insert(0, str(APPS))
    try:
        yield {name: importlib.import_module(name) for name in ("matrix_app", "matrix_buggy", "matrix_custom")}
    finally:
        sys.path.remove(str(APPS))


def cases_of(app: Any, validation: int = 422, expected: tuple[str, ...] = (), **kwargs: Any) -> list[CaseSpec]:
    return build_cases(read_routes(app), expectations=Expectations.from_settings(validation, expected), **kwargs)


sys.path.insert(0, str(APPS))
from matrix_expected import EXPECTED_IDS as MATRIX_APP_IDS  # noqa: E402
from matrix_expected import auth_ids  # noqa: E402

sys.path.remove(str(APPS))


def test_ids_of_a_correct_app(apps: dict[str, ModuleType]) -> None:
    cases = cases_of(apps["matrix_app"].app, public=["GET /health"])
    assert [c.id for c in cases] == MATRIX_APP_IDS


def test_a_route_neither_protected_nor_public_gets_an_unprotected_case(apps: dict[str, ModuleType]) -> None:
    ids = [c.id for c in cases_of(apps["matrix_app"].app)]
    assert ids[-2:] == ["GET /health-200-success", "GET /health-401-unprotected-route"]


def test_custom_app_ids_cover_uuid_ids_embedded_bodies_headers_and_api_keys(apps: dict[str, ModuleType]) -> None:
    ids = [c.id for c in cases_of(apps["matrix_custom"].app, validation=400, public=["POST /auth/login"])]
    assert ids == [
        "POST /auth/login-200-success",
        "POST /auth/login-400-invalid-type",
        "POST /auth/login-400-missing-field",
        "GET /service/keys-200-success",
        "GET /service/keys-401-missing-auth",
        "GET /service/keys-401-malformed-header",
        "PUT /v1/items/{item_id}-200-success",
        "PUT /v1/items/{item_id}-200-edge-values",
        "PUT /v1/items/{item_id}-400-invalid-type",
        "PUT /v1/items/{item_id}-400-missing-field",
        "PUT /v1/items/{item_id}-400-invalid-enum",
        *auth_ids("PUT /v1/items/{item_id}"),
        "PUT /v1/items/{item_id}-403-other-users-resource",
        "PUT /v1/items/{item_id}-404-missing-resource",
        "GET /v1/items-200-success",
        "GET /v1/items-400-missing-field",
        "GET /v1/items-400-invalid-enum",
        *auth_ids("GET /v1/items"),
        "POST /v1/tags-201-success",
        "POST /v1/tags-400-invalid-type",
        "POST /v1/tags-400-missing-field",
        *auth_ids("POST /v1/tags"),
    ]


def test_generated_bodies_are_valid_and_invalid_ones_are_invalid(apps: dict[str, ModuleType]) -> None:
    for name in ("matrix_app", "matrix_custom", "matrix_buggy"):
        for case in cases_of(apps[name].app):
            body = case.route.body
            if body is None or not case.send_body:
                continue
            errors = body.validate(case.body)
            if case.kind == "validation":
                assert errors, case.id
            else:
                assert case.body_problem is None, case.id
                assert not errors, (case.id, errors)


def test_bodies_are_deterministic_per_seed(apps: dict[str, ModuleType]) -> None:
    app = apps["matrix_app"].app
    first = [c.body for c in cases_of(app, seed=1)]
    assert first == [c.body for c in cases_of(app, seed=1)]
    assert first != [c.body for c in cases_of(app, seed=2)]


def test_what_each_case_sends(apps: dict[str, ModuleType]) -> None:
    by_id = {c.id: c for c in cases_of(apps["matrix_app"].app, public=["GET /health"])}
    enum_case = by_id["POST /api/projects-400-invalid-enum"]
    assert enum_case.body["kind"] == "xaio-not-a-choice"
    assert enum_case.expected == (422,)
    missing = by_id["POST /api/projects-400-missing-field"]
    assert "name" not in missing.body
    assert by_id["GET /api/projects-400-invalid-type"].query == {"limit": "not-a-number"}
    assert by_id["GET /api/projects-400-invalid-enum"].query == {"kind": "xaio-not-a-choice"}
    not_found = by_id["GET /api/projects/{project_id}-404-missing-resource"]
    assert not_found.path == {"project_id": 987654321}
    assert not not_found.anonymous
    expired = by_id["POST /api/projects-401-expired-token"]
    assert expired.anonymous
    assert expired.auth_case == "expired-token"
    assert expired.expected == (401,)
    success = by_id["GET /api/projects/{project_id}-200-success"]
    assert success.path_fixtures == ("project_id",)
    assert success.path == {}
    assert by_id["GET /health-200-success"].anonymous
    assert by_id["DELETE /api/projects/{project_id}-204-success"].expected == (204,)


def test_expected_statuses_are_configurable(apps: dict[str, ModuleType]) -> None:
    cases = cases_of(
        apps["matrix_app"].app, expected=("unauthenticated = 403", "expired-token = 401|403", "not_found=410")
    )
    by_id = {c.id: c for c in cases}
    assert by_id["POST /api/projects-401-missing-auth"].expected == (403,)
    assert by_id["POST /api/projects-401-expired-token"].expected == (401, 403)
    assert by_id["GET /api/projects/{project_id}-404-missing-resource"].expected == (410,)
    with pytest.raises(pytest.UsageError, match="is not kind = status"):
        Expectations.from_settings(422, ["unauthorised = 403"])
    with pytest.raises(pytest.UsageError, match="has no status code"):
        Expectations.from_settings(422, ["success = ok"])


def test_include_exclude_and_statuses(apps: dict[str, ModuleType]) -> None:
    app = apps["matrix_app"].app
    ids = [c.id for c in cases_of(app, include=["/api/projects/*"], exclude=["DELETE *"], statuses=[200, 404])]
    assert ids == ["GET /api/projects/{project_id}-200-success", "GET /api/projects/{project_id}-404-missing-resource"]
    ids = [c.id for c in cases_of(app, public=["/health"], statuses=[200])]
    assert ids == [i for i in MATRIX_APP_IDS if "-success" in i or "-edge-values" in i]


def test_dash_k_expressions_are_rewritten_for_matrix_ids() -> None:
    assert keyword_for_ids("401") == "401"
    assert keyword_for_ids("POST /api/projects") == "(POST and /api/projects)"
    assert keyword_for_ids("not GET /health or 404") == "not (GET and /health) or 404"
    assert keyword_for_ids("GET /api/projects/{project_id}-404") == "(GET and (/api/projects/ and project_id and -404))"
    assert keyword_for_ids("test_a and not slow") == "test_a and not slow"


def test_patterns() -> None:
    assert matches(["/api/*"], "GET", "/api/x")
    assert matches(["GET /health"], "get", "/health")
    assert not matches(["POST /health"], "GET", "/health")
    assert matches(["* /admin/*"], "DELETE", "/admin/users")
    assert not matches(["/api"], "GET", "/api/x")


def test_auth_detection() -> None:
    def custom_user(authorization: Annotated[str, Header()]) -> str:
        return authorization

    router = APIRouter(dependencies=[Depends(HTTPBasic())])

    @router.get("/basic")
    def basic() -> None: ...

    app = FastAPI()
    app.include_router(router)

    @app.get("/custom")
    def custom(user: Annotated[str, Depends(custom_user)]) -> None: ...

    @app.get("/key")
    def key(k: Annotated[str, Depends(APIKeyQuery(name="key"))]) -> None: ...

    @app.get("/open")
    def open_route() -> None: ...

    by_path = {r.path: r for r in read_routes(app)}
    assert by_path["/basic"].auth == "basic"
    assert by_path["/custom"].auth is None
    assert by_path["/key"].auth == "apikey"
    assert by_path["/key"].api_key is not None
    assert by_path["/key"].api_key.location == "query"
    assert by_path["/open"].auth is None
    with_custom = {r.path: r for r in read_routes(app, [custom_user])}
    assert with_custom["/custom"].auth == "bearer"


def test_missing_ids() -> None:
    assert missing_id({"type": "integer"}, {}, 0) == 987654321
    assert missing_id({"type": "integer", "maximum": 100}, {}, 0) == 100
    uid = missing_id({"type": "string", "format": "uuid"}, {}, 3)
    assert uid == missing_id({"type": "string", "format": "uuid"}, {}, 3)
    assert len(str(uid)) == 36
    assert missing_id({"type": "string"}, {}, 0) == "xaio-missing-0"
    assert missing_id({"$ref": "#/$defs/K"}, {"K": {"enum": ["a", "b"]}}, 0) is None


def test_generator_respects_constraints() -> None:
    gen = Generator({}, 0, "x")
    assert gen.valid({"type": "integer", "minimum": 5}) == 5
    assert gen.valid({"type": "integer", "exclusiveMaximum": 1}) == 0
    assert len(gen.valid({"type": "string", "minLength": 30})) >= 30
    assert len(gen.valid({"type": "string", "maxLength": 3})) <= 3
    assert gen.valid({"type": "string", "format": "email"}).endswith("@example.com")
    assert gen.valid({"anyOf": [{"type": "null"}, {"type": "boolean"}]}) is True
    assert gen.valid({"type": "array", "items": {"type": "integer"}, "minItems": 2}) == [1, 1]


def test_a_non_fastapi_app_is_a_usage_error() -> None:
    with pytest.raises(pytest.UsageError, match="needs a FastAPI app"):
        read_routes(object())


def test_nested_models_and_query_models() -> None:
    class Filters(BaseModel):
        page: int = 1
        q: str

    app = FastAPI()

    @app.get("/search")
    def search(filters: Annotated[Filters, Depends()]) -> None: ...

    (route,) = read_routes(app)
    assert [(p.name, p.location, p.required) for p in route.params] == [("page", "query", False), ("q", "query", True)]


def test_failure_report_redacts_tokens() -> None:
    assert redact("Authorization", "Bearer abcdefghijklmnop") == "Bearer abcdef...<redacted 16 chars>"
    assert redact("X-Trace", "abc") == "abc"
    assert redact("X-Key", "secretsecret", ["x-key"]) == "secret...<redacted 12 chars>"

    class Req:
        method = "POST"
        url = "http://testserver/api/projects"
        headers = {
            "authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
            "content-type": "application/json",
        }
        content = b'{"name": "x"}'

    class Resp:
        status_code = 200
        headers = {"content-type": "application/json"}
        content = b'{"id": 1, "name": "' + b"x" * 2000 + b'"}'

    text = describe_failure(
        case_id="POST /api/projects-401-expired-token",
        what="case expired-token",
        expected=(401,),
        status=200,
        request=Req(),
        response=Resp(),
        hint="accepted",
    )
    assert "expected status 401, got 200" in text
    assert "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig" not in text
    assert "Bearer eyJhbG...<redacted" in text
    assert 'body: {"name": "x"}' in text
    assert "more characters)" in text


def test_per_route_expect_and_declared_responses_set_what_passes() -> None:
    from fastapi.responses import HTMLResponse, RedirectResponse

    app = FastAPI()

    @app.post("/recover/{email}", responses={202: {"description": "queued"}, 410: {"description": "gone"}})
    def recover(email: str) -> dict[str, str]:
        return {}

    @app.get("/page", response_class=HTMLResponse)
    def page() -> str:
        return "<p>hi</p>"

    @app.get("/go", response_class=RedirectResponse)
    def go() -> str:
        return "/page"

    expectations = Expectations.from_settings(
        422, ["not_found = 404"], {"POST /recover/*": {"missing-resource": [200, 202]}}
    )
    by_id = {c.id: c for c in build_cases(read_routes(app), expectations=expectations, public=["*"])}
    assert by_id["POST /recover/{email}-200-success"].expected == (200, 202)  # declared 2xx accepted too
    assert by_id["POST /recover/{email}-404-missing-resource"].expected == (200, 202)  # expect= wins
    assert by_id["GET /go-307-success"].expected == (307,)  # the response class's own status
    assert not by_id["GET /page-200-success"].route.response.is_json
    route = read_routes(app)[0]
    assert Expectations.from_settings(422, ()).expected("missing-resource", route) == (404, 410)
    with pytest.raises(pytest.UsageError, match="'missing-resorce' is not a case or kind"):
        Expectations.from_settings(422, (), {"GET /x": {"missing-resorce": 200}})
    with pytest.raises(pytest.UsageError, match="has no status code"):
        Expectations.from_settings(422, (), {"GET /x": {"missing-resource": "ok"}})


def test_form_string_fields_get_no_invalid_type_but_form_numbers_do() -> None:
    from fastapi import Form

    app = FastAPI()

    @app.post("/login")
    def login(username: Annotated[str, Form()], password: Annotated[str, Form()]) -> dict[str, str]:
        return {}

    @app.post("/rate")
    def rate(comment: Annotated[str, Form()], stars: Annotated[int, Form(ge=1, le=5)]) -> dict[str, str]:
        return {}

    by_id = {c.id: c for c in build_cases(read_routes(app), expectations=Expectations.from_settings(422, ()))}
    assert "POST /login-400-invalid-type" not in by_id
    assert by_id["POST /rate-400-invalid-type"].body["stars"] == "not-a-number"


def test_edge_values_are_valid_and_reach_for_null_empty_and_boundaries() -> None:
    from pydantic import Field

    class Patch(BaseModel):
        name: str | None = None
        bio: str = ""
        age: int = Field(18, ge=18, le=130)
        nick: str = Field(min_length=2)

    app = FastAPI()

    @app.patch("/me")
    def patch(body: Patch) -> dict[str, str]:
        return {}

    by_id = {c.id: c for c in build_cases(read_routes(app), expectations=Expectations.from_settings(422, ()))}
    edge = by_id["PATCH /me-200-edge-values"]
    assert edge.body["name"] is None
    assert edge.body["bio"] == ""
    assert len(edge.body["nick"]) >= 2
    assert edge.body["age"] == 18  # the boundary
    assert edge.expected == ()  # any status below 500: refusing is the app's right, crashing is not
    assert edge.route.body is not None
    assert not edge.route.body.validate(edge.body)


def test_admin_routes_and_admin_looking_paths() -> None:
    from pytest_xaio.matrix.authz import looks_admin

    assert looks_admin("/api/admin/stats")
    assert looks_admin("/admin-panel")
    assert looks_admin("/admins")
    assert not looks_admin("/api/administrative-areas")
    assert not looks_admin("/api/users/{admin_id}")
    from fastapi.security import HTTPBearer

    scheme = HTTPBearer()

    def require_admin(token: Annotated[Any, Depends(scheme)]) -> None:
        return None

    app = FastAPI()

    @app.get("/api/admin/users")
    def users(_: Annotated[None, Depends(require_admin)]) -> list[int]:
        return []

    @app.get("/api/admin/stats")
    def stats(token: Annotated[Any, Depends(scheme)]) -> dict[str, int]:
        return {}

    cases = build_cases(
        read_routes(app, (), [require_admin]), expectations=Expectations.from_settings(422, ()), admin_identity=True
    )
    by_id = {c.id: c for c in cases}
    assert by_id["GET /api/admin/users-200-success"].identity == "admin"
    assert by_id["GET /api/admin/users-403-not-admin"].identity == "user"
    assert by_id["GET /api/admin/stats-200-success"].identity == "admin"
    assert by_id["GET /api/admin/stats-403-unguarded-admin-route"].expected == (403,)
    assert "GET /api/admin/users-403-unguarded-admin-route" not in by_id


def test_answers_are_judged_by_the_declared_response_class() -> None:
    import httpx
    from fastapi.responses import HTMLResponse, RedirectResponse

    from pytest_xaio.matrix.responses import check_body

    class Out(BaseModel):
        id: int

    app = FastAPI()

    @app.get("/json")
    def as_json() -> Out:
        return Out(id=1)

    @app.get("/page", response_class=HTMLResponse)
    def page() -> str:
        return "<p>hi</p>"

    @app.get("/go", response_class=RedirectResponse)
    def go() -> str:
        return "/page"

    routes = {r.path: r for r in read_routes(app)}

    def answer(status: int, content_type: str, body: bytes, **headers: str) -> httpx.Response:
        return httpx.Response(status, headers={"content-type": content_type, **headers}, content=body)

    def check(path: str, response: httpx.Response) -> Any:
        return check_body(routes[path].response, routes[path].response_field, response)

    html = answer(200, "text/html; charset=utf-8", b"<p>hi</p>")
    assert check("/page", html) is None  # not JSON, and never meant to be
    assert check("/page", answer(200, "text/plain", b"hi")) == (
        "wrong content type",
        "the route declares HTMLResponse (text/html), the answer is text/plain",
    )
    assert check("/json", answer(200, "application/json", b'{"id": 1}')) is None
    assert (
        check("/json", answer(200, "application/json", b'{"id": "x"}'))[0]
        == "response does not match the response model"
    )
    assert check("/json", answer(200, "application/json", b"{oops"))[0] == "response body is not JSON"
    assert check("/json", html) is None  # the endpoint returned a Response of its own
    assert check("/go", answer(307, "text/plain", b"", location="/page")) is None
    assert check("/go", answer(307, "text/plain", b""))[0] == "redirect without a Location header"
