"""The matrix on routes guarded by API keys (header, query, cookie) and HTTP Basic
(tests/apps/matrix_keys.py): missing and bogus credentials, a wrong password for the right user,
the credentials fixtures, and the report saying why such routes get no authorization case."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from app_projects import outcomes_by_id

pytest.importorskip("fastapi")

APPS = Path(__file__).parent / "apps"
KEY_CASES = ("200-success", "401-missing-auth", "401-malformed-header")
ONE = "GET /basic/reports/{report_id}"
EXPECTED = [
    *(f"GET /{where}/reports-{case}" for where in ("header", "query", "cookie") for case in KEY_CASES),
    *(f"GET /basic/reports-{case}" for case in (*KEY_CASES, "401-wrong-password")),
    *(f"{ONE}-{case}" for case in ("200-success", "400-invalid-type", *KEY_CASES[1:], "401-wrong-password")),
    f"{ONE}-404-missing-resource",
]
CREDENTIALS = """
import pytest
import matrix_keys

@pytest.fixture
def xaio_api_key():
    return matrix_keys.API_KEY

@pytest.fixture
def xaio_basic_auth():
    return (matrix_keys.USER, matrix_keys.PASSWORD)

@pytest.fixture
def report_id():
    return 1
"""


def make_project(pytester: pytest.Pytester, app: str, conftest: str = CREDENTIALS) -> None:
    shutil.copy(APPS / "matrix_keys.py", pytester.path / "matrix_keys.py")
    pytester.makeini(f"[pytest]\nxaio_app = matrix_keys:{app}\nfilterwarnings = ignore::DeprecationWarning\n")
    pytester.makeconftest(conftest)
    pytester.makepyfile(
        test_endpoints="""
import pytest

@pytest.mark.endpoint_matrix
def test_endpoints(case):
    case.validate(case.call())
"""
    )


def test_a_correct_app_passes_and_the_report_says_why_there_is_no_authz_case(pytester: pytest.Pytester) -> None:
    make_project(pytester, "app")
    result = pytester.runpytest("-v", "-p", "no:randomly")
    outcomes = outcomes_by_id(result)
    assert list(outcomes) == EXPECTED
    assert set(outcomes.values()) == {"PASSED"}
    result.stdout.fnmatch_lines(
        [
            "not covered:",
            f"  {ONE}-403-other-users-resource: not covered (HTTP Basic route: the matrix has one credential "
            "for it, from xaio_basic_auth, and cannot make a second user's)",
        ]
    )


def test_a_key_that_is_never_checked_and_a_password_that_is_never_checked_fail(pytester: pytest.Pytester) -> None:
    make_project(pytester, "buggy")
    result = pytester.runpytest("-v", "-p", "no:randomly")
    outcomes = outcomes_by_id(result)
    assert list(outcomes) == EXPECTED
    assert {i for i, o in outcomes.items() if o != "PASSED"} == {
        "GET /header/reports-401-malformed-header",
        "GET /basic/reports-401-wrong-password",
    }
    assert {
        outcomes["GET /header/reports-401-malformed-header"],
        outcomes["GET /basic/reports-401-wrong-password"],
    } == {"FAILED"}
    result.stdout.fnmatch_lines(
        [
            "endpoint matrix case GET /basic/reports-401-wrong-password",
            "  case wrong-password: expected status 401, got 200",
            "  the app accepted a request with wrong password",
            "  request: GET http://testserver/basic/reports",
            "    authorization: Basic *...<redacted * chars>",
        ]
    )


def test_without_the_credentials_fixtures_the_cases_that_need_them_are_skipped_naming_them(
    pytester: pytest.Pytester,
) -> None:
    make_project(pytester, "app", conftest="import pytest\n\n@pytest.fixture\ndef report_id():\n    return 1\n")
    result = pytester.runpytest("-v", "-rs", "-p", "no:randomly")
    outcomes = outcomes_by_id(result)
    needs_credentials = {i for i in EXPECTED if i.endswith(("-200-success", "-wrong-password", "-invalid-type"))}
    needs_credentials |= {f"{ONE}-404-missing-resource"}
    assert {i for i, o in outcomes.items() if o == "SKIPPED"} == needs_credentials
    assert {i for i, o in outcomes.items() if o == "PASSED"} == set(EXPECTED) - needs_credentials
    result.stdout.fnmatch_lines(
        [
            "*GET /header/reports authenticates with apikey; add a fixture named xaio_api_key returning valid "
            "credentials to run this case*",
        ]
    )
    result.stdout.fnmatch_lines(["*GET /basic/reports authenticates with basic; add a fixture named xaio_basic_auth*"])
