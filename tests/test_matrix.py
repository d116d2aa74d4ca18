"""The endpoint matrix as users run it: pytester sessions on small FastAPI apps (tests/apps) against
real PostgreSQL, asserting the generated ids and each case's outcome."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from app_projects import outcomes_by_id

pytest.importorskip("fastapi")

APPS = Path(__file__).parent / "apps"
sys.path.insert(0, str(APPS))
from matrix_expected import EXPECTED_IDS, PROJECT_FIXTURE, SCHEMA, auth_ids  # noqa: E402

sys.path.remove(str(APPS))
SECRET = "matrix-secret-0123456789abcdef0123456789"


MATRIX_TEST = """
import pytest

@pytest.mark.endpoint_matrix{options}
def test_endpoints(case):
    response = case.call()
    case.validate(response)
"""


def make_project(
    pytester: pytest.Pytester,
    app: str = "matrix_app:app",
    *,
    options: str = "",
    ini: str = "",
    conftest: str = PROJECT_FIXTURE,
) -> None:
    for source in APPS.glob("matrix_*.py"):
        shutil.copy(source, pytester.path / source.name)
    (pytester.path / "schema.sql").write_text(SCHEMA)
    pytester.makeini(
        "[pytest]\n"
        f"xaio_app = {app}\n"
        "xaio_schema_sql = schema.sql\n"
        "xaio_db_dependency = matrix_app:get_db\n"
        f"xaio_jwt_secret = {SECRET}\n"
        f"xaio_env = SECRET_KEY={SECRET}\n"
        "filterwarnings = ignore::DeprecationWarning\n" + ini
    )
    pytester.makeconftest(conftest)
    pytester.makepyfile(test_endpoints=MATRIX_TEST.format(options=options))


def collected_ids(result: pytest.RunResult) -> list[str]:
    prefix = "test_endpoints.py::test_endpoints["
    return [line[len(prefix) : -1] for line in result.outlines if line.startswith(prefix)]


def test_collect_only_lists_every_case_of_every_route(pytester: pytest.Pytester) -> None:
    make_project(pytester, ini="xaio_public_routes = GET /health\n")
    result = pytester.runpytest("--collect-only", "-q")
    assert collected_ids(result) == EXPECTED_IDS


def test_a_correct_app_passes_every_case(pytester: pytest.Pytester) -> None:
    make_project(pytester, ini="xaio_public_routes = GET /health\n")
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=len(EXPECTED_IDS))
    assert set(outcomes_by_id(result)) == set(EXPECTED_IDS)


def test_without_a_path_fixture_the_success_case_is_skipped_naming_the_fixture(pytester: pytest.Pytester) -> None:
    make_project(pytester, ini="xaio_public_routes = GET /health\n", conftest="")
    result = pytester.runpytest("-v", "-rs")
    needs_row = {
        "GET /api/projects/{project_id}-200-success",
        "GET /api/projects/{project_id}-403-other-users-resource",
        "GET /api/projects/{project_id}-404-after-delete",
        "DELETE /api/projects/{project_id}-204-success",
        "DELETE /api/projects/{project_id}-403-other-users-resource",
    }
    result.assert_outcomes(passed=len(EXPECTED_IDS) - len(needs_row), skipped=len(needs_row))
    skipped = {i for i, outcome in outcomes_by_id(result).items() if outcome == "SKIPPED"}
    assert skipped == needs_row
    result.stdout.fnmatch_lines(["*add a fixture named 'project_id'*"])


PLANTED = {
    "POST /api/projects-201-success",  # 500 on a valid body
    "POST /api/projects-201-edge-values",  # ...on every body
    "GET /api/projects/{project_id}-403-other-users-resource",  # never checks the owner
    "GET /api/admin/stats-403-unguarded-admin-route",  # any user gets the admin stats
    "GET /api/projects/{project_id}-404-missing-resource",  # 200 for a missing id
    "GET /api/projects/{project_id}/summary-401-unprotected-route",  # forgot its auth dependency
    "GET /api/me-401-expired-token",  # accepts an expired token
    "GET /api/admin/stats-401-expired-token",  # accepts any token...
    "GET /api/admin/stats-401-wrong-signature",
    "GET /api/admin/stats-401-alg-none",  # ...even alg=none
}


def test_planted_bugs_are_caught_and_nothing_else(pytester: pytest.Pytester) -> None:
    make_project(pytester, "matrix_buggy:app")
    result = pytester.runpytest("-v")
    outcomes = outcomes_by_id(result)
    assert {i for i, outcome in outcomes.items() if outcome == "FAILED"} == PLANTED
    assert set(outcomes.values()) == {"PASSED", "FAILED"}
    assert len(outcomes) == 36


def test_failures_read_well(pytester: pytest.Pytester) -> None:
    make_project(pytester, "matrix_buggy:app")
    result = pytester.runpytest("-k", "missing-resource or alg-none or unprotected or POST /api/projects-201")
    result.stdout.fnmatch_lines(
        [
            "endpoint matrix case GET /api/projects/{project_id}-404-missing-resource",
            "  case missing-resource: expected status 404, got 200",
            "  the route answered 200 for an id that does not exist",
            "  request: GET http://testserver/api/projects/987654321",
            "    authorization: Bearer eyJhbG...<redacted * chars>",
            "  response 200: null",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "endpoint matrix case GET /api/admin/stats-401-alg-none",
            "  case alg-none: expected status 401, got 200",
            "  the app accepted a request with alg none",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*/summary has no auth dependency and is not declared public; without a token it answered 200.*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "  case success: expected status 201, got an exception (ZeroDivisionError: division by zero)",
            "*raised at *matrix_buggy.py:*",
            '    body: {"name": "xaio-name-*", "kind": "*", "settings": {"retries": 1}}',
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_dash_k_selects_as_users_expect(pytester: pytest.Pytester) -> None:
    make_project(pytester, ini="xaio_public_routes = GET /health\n")
    only_401 = collected_ids(pytester.runpytest("--collect-only", "-q", "-k", "401"))
    assert only_401 == [i for i in EXPECTED_IDS if "-401-" in i]
    assert len(only_401) == 20
    posts = collected_ids(pytester.runpytest("--collect-only", "-q", "-k", "POST /api/projects"))
    assert posts == [i for i in EXPECTED_IDS if i.startswith("POST /api/projects")]
    assert len(posts) == 10
    expired_posts = collected_ids(pytester.runpytest("--collect-only", "-q", "-k", "POST /api/projects and expired"))
    assert expired_posts == ["POST /api/projects-401-expired-token"]
    by_path = collected_ids(pytester.runpytest("--collect-only", "-q", "-k", "GET /api/projects/{project_id}"))
    assert by_path == [i for i in EXPECTED_IDS if i.startswith("GET /api/projects/{project_id}")]
    assert len(by_path) == 10
    others = collected_ids(pytester.runpytest("--collect-only", "-q", "-k", "not POST /api/projects and 404"))
    assert others == [
        "GET /api/projects/{project_id}-404-missing-resource",
        "GET /api/projects/{project_id}-404-after-delete",
        "DELETE /api/projects/{project_id}-404-missing-resource",
    ]


def test_custom_validation_handler_api_keys_and_uuid_ids(pytester: pytest.Pytester) -> None:
    conftest = """
import pytest
import matrix_custom

@pytest.fixture
def item_id():
    return matrix_custom.KNOWN_ITEM

@pytest.fixture
def xaio_api_key():
    return matrix_custom.API_KEY
"""
    make_project(
        pytester,
        "matrix_custom:app",
        options='(public=["POST /auth/login"])',
        ini="xaio_validation_status = 400\n",
        conftest=conftest,
    )
    result = pytester.runpytest("-v")
    outcomes = outcomes_by_id(result)
    assert len(outcomes) == 34
    # KNOWN_ITEM belongs to nobody (the item_id fixture does not use xaio_user): no owner to test.
    assert outcomes.pop("PUT /v1/items/{item_id}-403-other-users-resource") == "SKIPPED"
    assert set(outcomes.values()) == {"PASSED"}
    # FastAPI's 422 is what the matrix expects unless told: the handler's 400s then fail, readably.
    result = pytester.runpytest("-v", "--xaio-validation-status", "422", "-k", "400")
    failed = [i for i, o in outcomes_by_id(result).items() if o == "FAILED"]
    assert len(failed) == 9
    result.stdout.fnmatch_lines(["  case invalid-enum: expected status 422, got 400"])


def test_expected_statuses_are_configurable(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        ini="xaio_public_routes = GET /health\nxaio_expected_status =\n"
        "    unauthenticated = 403\n    expired-token = 401|403\n",
    )
    result = pytester.runpytest("-v", "-k", "401")
    outcomes = outcomes_by_id(result)
    assert {i for i, o in outcomes.items() if o == "PASSED"} == {
        i for i in EXPECTED_IDS if i.endswith("-401-expired-token")
    }
    result.stdout.fnmatch_lines(["  case missing-auth: expected status 403, got 401"])


def test_payload_hook_supplies_the_success_body(pytester: pytest.Pytester) -> None:
    conftest = (
        PROJECT_FIXTURE
        + """
def pytest_xaio_payload(case):
    if case.method == "POST" and case.path == "/api/projects":
        body = case.body
        body["settings"]["retries"] = 99   # out of range: the app answers 422
        return body
    return None
"""
    )
    make_project(pytester, ini="xaio_public_routes = GET /health\n", conftest=conftest)
    result = pytester.runpytest("-v", "-k", "POST /api/projects-201 or POST /api/projects-401-expired")
    outcomes = outcomes_by_id(result)
    assert outcomes == {
        "POST /api/projects-201-success": "FAILED",
        "POST /api/projects-201-edge-values": "PASSED",  # sends its own edge values, not the hook's body
        "POST /api/projects-401-expired-token": "PASSED",
    }
    result.stdout.fnmatch_lines(["*the app rejected the body pytest_xaio_payload(case) returned*", '*"retries": 99*'])


def test_marker_options_select_routes_and_statuses(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        options='(include=["/api/projects/*", "/health"], exclude=["DELETE *"], '
        'statuses=[200, 404], public=["/health"])',
    )
    result = pytester.runpytest("--collect-only", "-q")
    assert collected_ids(result) == [
        "GET /api/projects/{project_id}-200-success",
        "GET /api/projects/{project_id}-404-missing-resource",
        "GET /health-200-success",
    ]


def test_a_route_not_declared_public_gets_a_failing_case(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    result = pytester.runpytest("-v", "-k", "health")
    assert outcomes_by_id(result) == {
        "GET /health-200-success": "PASSED",
        "GET /health-401-unprotected-route": "FAILED",
    }
    result.stdout.fnmatch_lines(["*declare it public: xaio_public_routes = GET /health or endpoint_matrix(public=*"])


def test_misuse_is_reported(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    pytester.makepyfile(
        test_endpoints="""
import pytest

@pytest.mark.endpoint_matrix
def test_no_case():
    pass

def test_case_without_marker(case):
    pass
"""
    )
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*has @pytest.mark.endpoint_matrix but no `case` argument*"])
    pytester.makepyfile(test_endpoints="def test_case_without_marker(case):\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the `case` fixture comes from @pytest.mark.endpoint_matrix*"])


def test_no_app_configured_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_endpoints=MATRIX_TEST.format(options=""))
    result = pytester.runpytest("--collect-only")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*no app is configured*"])


def test_marker_app_option_picks_another_app(pytester: pytest.Pytester) -> None:
    make_project(pytester, options='(app="matrix_buggy:app", include=["/api/me"])')
    result = pytester.runpytest("--collect-only", "-q")
    assert collected_ids(result) == ["GET /api/me-200-success", *auth_ids("GET /api/me")]


HEADER_APP = """
import os
from typing import Annotated

import jwt
from fastapi import Depends, FastAPI, Header, HTTPException

from matrix_app import get_db  # noqa: F401  (the DB dependency the ini names)


def current_user(authorization: Annotated[str | None, Header()] = None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    try:
        return jwt.decode(token, os.environ["SECRET_KEY"], algorithms=["HS256"])["sub"]
    except jwt.PyJWTError:
        raise HTTPException(401, "not authenticated") from None


app = FastAPI()


@app.get("/api/me")
def me(user: Annotated[str, Depends(current_user)]) -> dict[str, str]:
    return {"id": user}
"""


def test_auth_dependencies_setting_marks_routes_that_read_the_header_themselves(pytester: pytest.Pytester) -> None:
    make_project(pytester, "header_app:app", ini="xaio_auth_dependencies = header_app:current_user\n")
    pytester.makepyfile(header_app=HEADER_APP)
    result = pytester.runpytest("-v")
    assert outcomes_by_id(result) == {i: "PASSED" for i in ["GET /api/me-200-success", *auth_ids("GET /api/me")]}
    result = pytester.runpytest("-v", "--xaio-auth-dependencies", "")
    assert outcomes_by_id(result) == {
        "GET /api/me-200-success": "PASSED",
        "GET /api/me-401-unprotected-route": "PASSED",
    }


FILL_APP = """
from typing import Annotated

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import text

from matrix_app import Db, get_db  # noqa: F401  (the DB dependency the ini names)


class Comment(BaseModel):
    project_id: int
    text: str


app = FastAPI()


@app.post("/comments", status_code=201)
def comment(body: Comment, db: Db) -> dict[str, int]:
    if db.execute(text("SELECT 1 FROM projects WHERE id = :i"), {"i": body.project_id}).first() is None:
        raise HTTPException(404, "no such project")
    return {"project_id": body.project_id}


@app.get("/comments")
def comments(project_id: Annotated[int, Query()], db: Db) -> list[int]:
    if db.execute(text("SELECT 1 FROM projects WHERE id = :i"), {"i": project_id}).first() is None:
        raise HTTPException(404, "no such project")
    return []
"""


def test_id_fields_of_bodies_and_queries_come_from_same_named_fixtures(pytester: pytest.Pytester) -> None:
    make_project(pytester, "fill_app:app", options='(public=["/comments"], statuses=[200])')
    pytester.makepyfile(fill_app=FILL_APP)
    result = pytester.runpytest("-v")
    assert outcomes_by_id(result) == {
        "POST /comments-201-success": "PASSED",
        "POST /comments-201-edge-values": "PASSED",
        "GET /comments-200-success": "PASSED",
        "GET /comments-200-edge-values": "PASSED",
    }


def test_a_project_fixture_named_case_is_reported_clearly(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        options="(include=['GET /health'])",
        ini="xaio_public_routes = GET /health\n",
        conftest=PROJECT_FIXTURE + "\n\n@pytest.fixture\ndef case():\n    return 'a case of my own'\n",
    )
    result = pytester.runpytest("-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*`case` argument of this @pytest.mark.endpoint_matrix test is a str from a fixture of yours named `case`*"]
    )
    assert "has no attribute 'validate'" not in result.stdout.str()
