"""The matrix's acceptance app (tests/apps/matrix_authz.py): one planted bug of each kind the matrix
finds (another user's row, an unguarded admin route, a 500 on a null optional field, a soft delete
the GET ignores) is caught, and no correct route fails, tricky ones included (an HTML page, a form
login, an anti-enumeration route, an app answering 403 for bad tokens). Real PostgreSQL, real JWTs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")

APPS = Path(__file__).parent / "apps"
SECRET = "matrix-authz-secret-0123456789abcdef01234567"
AUTH5 = ("missing-auth", "malformed-header", "expired-token", "wrong-signature", "alg-none")

MATRIX_TEST = """
import pytest

EXPECT = {"POST /password-recovery/{email}": {"missing-resource": 200}}


@pytest.mark.endpoint_matrix(expect=EXPECT%s)
def test_endpoints(case):
    case.validate(case.call())


@pytest.mark.endpoint_matrix(app="matrix_authz:forbidding")
def test_forbidding(case):
    case.validate(case.call())
"""


def make_project(pytester: pytest.Pytester, app: str, options: str = "") -> None:
    import sys

    shutil.copy(APPS / "matrix_authz.py", pytester.path / "matrix_authz.py")
    shutil.copy(APPS / "matrix_authz_conftest.py", pytester.path / "conftest.py")
    sys.path.insert(0, str(APPS))
    try:
        from matrix_authz import SCHEMA
    finally:
        sys.path.remove(str(APPS))
    (pytester.path / "schema.sql").write_text(SCHEMA)
    pytester.makeini(
        "[pytest]\n"
        f"xaio_app = matrix_authz:{app}\n"
        "xaio_schema_sql = schema.sql\n"
        "xaio_db_dependency = matrix_authz:get_db\n"
        f"xaio_jwt_secret = {SECRET}\n"
        f"xaio_env = SECRET_KEY={SECRET}\n"
        "xaio_public_routes =\n    POST /auth/login\n    GET /login\n    POST /password-recovery/*\n"
        "xaio_admin_dependencies = matrix_authz:require_admin\n"
        "xaio_admin_attrs = is_superuser = true\n"
        "filterwarnings = ignore::DeprecationWarning\n"
    )
    pytester.makepyfile(test_endpoints=MATRIX_TEST % options)


def outcomes_by_id(result: pytest.RunResult) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in result.outlines:
        match = re.match(r"test_endpoints\.py::test_(\w+)\[(.*)\] (PASSED|FAILED|SKIPPED|ERROR)", line)
        if match:
            found[f"{match.group(1)}: {match.group(2)}"] = match.group(3)
    return found


def ids(route: str, *names: str) -> list[str]:
    return [f"endpoints: {route}-{name}" for name in names]


def auth(route: str) -> list[str]:
    return [f"endpoints: {route}-401-{name}" for name in AUTH5]


NOTE = "/api/notes/{note_id}"
TASK = "/api/tasks/{task_id}"
EXPECTED = [
    *ids("POST /auth/login", "200-success", "400-missing-field"),  # form strings: no invalid-type
    *ids("GET /login", "200-success"),
    *ids("POST /password-recovery/{email}", "200-success", "404-missing-resource"),
    *ids("GET /api/me", "200-success"),
    *auth("GET /api/me"),
    *ids("PATCH /api/me", "200-success", "200-edge-values", "400-invalid-type", "400-missing-field"),
    *auth("PATCH /api/me"),
    *ids("GET /api/notes", "200-success", "200-edge-values", "400-invalid-type"),
    *auth("GET /api/notes"),
    *ids("POST /api/notes", "201-success", "201-edge-values", "400-invalid-type", "400-missing-field"),
    *auth("POST /api/notes"),
    *ids(f"GET {NOTE}", "200-success", "400-invalid-type"),
    *auth(f"GET {NOTE}"),
    *ids(f"GET {NOTE}", "403-other-users-resource", "404-missing-resource", "404-after-delete"),
    *ids(f"PUT {NOTE}", "200-success", "200-edge-values", "400-invalid-type", "400-missing-field"),
    *auth(f"PUT {NOTE}"),
    *ids(f"PUT {NOTE}", "403-other-users-resource", "404-missing-resource"),
    *ids(f"DELETE {NOTE}", "204-success", "400-invalid-type"),
    *auth(f"DELETE {NOTE}"),
    *ids(f"DELETE {NOTE}", "403-other-users-resource", "404-missing-resource"),
    *ids(f"GET {NOTE}/export", "200-success", "400-invalid-type"),
    *auth(f"GET {NOTE}/export"),
    *ids(f"GET {NOTE}/export", "403-other-users-resource", "404-missing-resource"),
    *ids(f"GET {TASK}", "200-success", "400-invalid-type"),
    *auth(f"GET {TASK}"),
    *ids(f"GET {TASK}", "403-other-users-resource", "404-missing-resource", "404-after-delete"),
    *ids(f"DELETE {TASK}", "204-success", "400-invalid-type"),
    *auth(f"DELETE {TASK}"),
    *ids(f"DELETE {TASK}", "403-other-users-resource", "404-missing-resource"),
    *ids("GET /api/admin/users", "200-success"),
    *auth("GET /api/admin/users"),
    *ids("GET /api/admin/users", "403-not-admin"),
    *ids("GET /api/admin/stats", "200-success"),
    *auth("GET /api/admin/stats"),
]
# The forbidding app (endpoint_matrix(app=...)): its 403s for bad tokens are declared in responses=.
FORBIDDING = ["forbidding: GET /strict/whoami-200-success"] + [
    f"forbidding: GET /strict/whoami-401-{name}" for name in AUTH5
]
PLANTED = {
    f"endpoints: GET {NOTE}-403-other-users-resource",  # returns another user's note
    "endpoints: GET /api/admin/stats-403-unguarded-admin-route",  # no admin dependency
    "endpoints: PATCH /api/me-200-edge-values",  # 500 on {"email": null}
    f"endpoints: GET {TASK}-404-after-delete",  # the GET ignores the soft delete
}


def test_every_planted_bug_is_caught_and_nothing_else(pytester: pytest.Pytester) -> None:
    make_project(pytester, "app")
    result = pytester.runpytest("-v", "-p", "no:randomly")
    outcomes = outcomes_by_id(result)
    buggy_ids = [*EXPECTED, "endpoints: GET /api/admin/stats-403-unguarded-admin-route", *FORBIDDING]
    assert sorted(outcomes) == sorted(buggy_ids)
    assert {i for i, o in outcomes.items() if o != "PASSED"} == PLANTED
    assert all(outcomes[i] == "FAILED" for i in PLANTED)
    text = result.stdout.str()
    assert "got an exception (IntegrityError" in text or "NotNullViolation" in text
    result.stdout.fnmatch_lines(
        [
            f"endpoint matrix case GET {NOTE}-403-other-users-resource",
            "  case other-users-resource: expected status 403 or 404, got 200",
            "  a second user (from xaio_user_factory) got 200 for a resource the fixtures made for xaio_user*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["  case unguarded-admin-route: expected status 403, got 200", "*looks like an admin route*"]
    )
    result.stdout.fnmatch_lines(
        ["  case after-delete: expected status 404 or 410, got 200", "*the deleted resource is still served*"]
    )
    result.stdout.fnmatch_lines(["  case edge-values: expected status below 500, got an exception*"])


def test_the_correct_app_passes_every_case_and_the_report_says_so(pytester: pytest.Pytester) -> None:
    make_project(pytester, "correct")
    report = pytester.path / "out" / "matrix.json"
    result = pytester.runpytest("-v", f"--xaio-matrix-report={report}")
    outcomes = outcomes_by_id(result)
    correct_ids = [*EXPECTED, "endpoints: GET /api/admin/stats-403-not-admin", *FORBIDDING]
    assert sorted(outcomes) == sorted(correct_ids)
    assert set(outcomes.values()) == {"PASSED"}
    result.stdout.fnmatch_lines(
        [
            "*- endpoint matrix -*",
            "16 routes, 115 cases (ok 115, failed 0, skipped 0)",
            "route * success * robustness * validation * unauthenticated * forbidden * not_found",
            "GET /api/notes/{note_id} * 1 ok * - * 1 ok * 5 ok * 1 ok * 2 ok",
            f"endpoint matrix report written to {report}",
        ]
    )
    data = json.loads(report.read_text())
    assert data["totals"] == {"passed": 115, "failed": 0, "skipped": 0}
    assert data["routes"]["GET /api/admin/stats"]["forbidden"] == [
        {"case": "not-admin", "id": "GET /api/admin/stats-403-not-admin", "outcome": "passed", "reason": ""}
    ]


ONLY_EXAMPLES = MATRIX_TEST.split("@pytest.mark.endpoint_matrix(app=")[0] % (
    ', examples=30, include=["PATCH /api/me", "POST /api/notes"]'
)


def test_examples_draw_requests_with_hypothesis_and_print_the_shrunk_one(pytester: pytest.Pytester) -> None:
    make_project(pytester, "app")
    pytester.makepyfile(test_endpoints=ONLY_EXAMPLES)
    args = ("-v", "-k", "examples", "-p", "hypothesis", "--hypothesis-profile", "xaio-ci")
    result = pytester.runpytest(*args)
    assert outcomes_by_id(result) == {
        "endpoints: PATCH /api/me-200-examples": "FAILED",
        "endpoints: POST /api/notes-201-examples": "PASSED",
    }
    snippet = {line.strip() for line in result.outlines if line.strip().startswith("response = xaio_client.request(")}
    # Shrunk to one null in a NOT NULL column (name or email), ready to paste into a test.
    assert len(snippet) == 1
    assert re.fullmatch(
        r"response = xaio_client\.request\('PATCH', '/api/me', json=\{'(name|email)': None\}\)", next(iter(snippet))
    )
    result.stdout.fnmatch_lines(["  shrunk by Hypothesis; to reproduce:"])
    again = pytester.runpytest(*args)  # the xaio-ci profile is derandomized: the same request again
    assert {line.strip() for line in again.outlines if "xaio_client.request(" in line} == snippet
    make_project(pytester, "correct")
    pytester.makepyfile(test_endpoints=ONLY_EXAMPLES)
    assert set(outcomes_by_id(pytester.runpytest(*args)).values()) == {"PASSED"}


@pytest.mark.parametrize(
    ("ini", "options", "message"),
    [
        ("xaio_admin_attrs =\n", "", "*xaio_admin_dependencies is set but xaio_admin_attrs is empty*"),
        ("xaio_admin_attrs = superuser\n", "", "*xaio_admin_attrs line 'superuser' is not name = value*"),
        ("", ', statuses=[], expect2={"x": 1}', "*bad @pytest.mark.endpoint_matrix*expect2*"),
        ("", ", examples=-1", "*examples must be a whole number of requests*"),
        ("", ' | {"GET /x": {"missing-resorce": 200}}', "*'missing-resorce' is not a case or kind*"),
    ],
)
def test_bad_matrix_configuration_is_a_usage_error(
    pytester: pytest.Pytester, ini: str, options: str, message: str
) -> None:
    make_project(pytester, "correct", options=options)
    if ini:
        text = (pytester.path / "tox.ini").read_text().replace("xaio_admin_attrs = is_superuser = true\n", ini)
        (pytester.path / "tox.ini").write_text(text)
    result = pytester.runpytest("--collect-only", "-q")
    assert result.ret != 0
    result.stdout.fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str()


ONCE_APP = """
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import text

from matrix_authz import Db, User


class Entry(BaseModel):
    label: str | None = None


app = FastAPI()


@app.post("/once", status_code=201)
def once(entry: Entry, user: User, db: Db) -> dict[str, str]:
    # A second row with k = 1 is a UniqueViolation (a 500): only a rollback between draws avoids it.
    db.execute(text("INSERT INTO once (k, label) VALUES (1, :l)"), {"l": entry.label})
    db.commit()
    return {"status": "stored"}
"""


def test_each_drawn_request_is_rolled_back_before_the_next(pytester: pytest.Pytester) -> None:
    make_project(pytester, "correct")
    with (pytester.path / "schema.sql").open("a") as schema:
        schema.write("\nCREATE TABLE once (k integer PRIMARY KEY, label text);\n")
    pytester.makepyfile(
        once_app=ONCE_APP,
        test_endpoints="""
import pytest

@pytest.mark.endpoint_matrix(app="once_app:app", examples=5, statuses=[201])
def test_once(case):
    case.validate(case.call())
""",
    )
    result = pytester.runpytest("-v")
    assert outcomes_by_id(result) == {
        "once: POST /once-201-success": "PASSED",
        "once: POST /once-201-edge-values": "PASSED",
        "once: POST /once-201-examples": "PASSED",
    }


def test_the_examples_ini_default_adds_an_examples_case_to_every_route_with_input(pytester: pytest.Pytester) -> None:
    make_project(pytester, "correct")
    pytester.makepyfile(
        test_endpoints="""
import pytest

@pytest.mark.endpoint_matrix(include=["PATCH /api/me", "GET /api/me"], statuses=[200])
def test_endpoints(case):
    case.validate(case.call())
"""
    )
    result = pytester.runpytest("--collect-only", "-q", "-o", "xaio_matrix_examples=3")
    assert [line.split("[", 1)[1][:-1] for line in result.outlines if "::test_endpoints[" in line] == [
        "GET /api/me-200-success",
        "PATCH /api/me-200-success",
        "PATCH /api/me-200-edge-values",
        "PATCH /api/me-200-examples",
    ]
