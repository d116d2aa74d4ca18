"""The matrix on app shapes it used to skip misleadingly or pass over in silence (tests/apps/matrix_inputs.py):
an enum path parameter, file uploads, a mounted FastAPI sub-app (its writes rolled back with the
test), a mounted Starlette app and a websocket (named as not covered), an app with no routes and
patterns that match none. Real PostgreSQL (the embedded default), real requests."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from app_projects import outcomes_by_id

pytest.importorskip("fastapi")
pytest.importorskip("multipart")

APPS = Path(__file__).parent / "apps"
SCHEMA = "CREATE TABLE once (k integer PRIMARY KEY, label text);\n"

MATRIX_TEST = """
import pytest

@pytest.mark.endpoint_matrix{options}
def test_endpoints(case):
    case.validate(case.call())
"""

EXPECTED = {
    "GET /colors/{color}-200-success": "PASSED",
    "GET /colors/{color}-400-invalid-enum": "PASSED",
    "POST /avatars-201-success": "PASSED",
    "POST /avatars-400-missing-field": "PASSED",
    "POST /attachments-201-success": "PASSED",
    "POST /attachments-400-missing-field": "PASSED",
    "POST /sub/once-201-success": "PASSED",
    "POST /sub/once-201-edge-values": "PASSED",
    "POST /sub/once-400-invalid-type": "PASSED",
    "POST /sub/once-400-missing-field": "PASSED",
}


def make_project(pytester: pytest.Pytester, app: str = "app", options: str = "") -> None:
    shutil.copy(APPS / "matrix_inputs.py", pytester.path / "matrix_inputs.py")
    (pytester.path / "schema.sql").write_text(SCHEMA)
    pytester.makeini(
        "[pytest]\n"
        f"xaio_app = matrix_inputs:{app}\n"
        "xaio_schema_sql = schema.sql\n"
        "xaio_db_dependency = matrix_inputs:get_db\n"
        "xaio_public_routes = /*\n"
        "filterwarnings = ignore::DeprecationWarning\n"
    )
    pytester.makepyfile(test_endpoints=MATRIX_TEST.format(options=options))


def test_enum_params_uploads_and_mounted_apps_run_and_the_rest_is_named(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    report = pytester.path / "matrix.json"
    result = pytester.runpytest("-v", "-p", "no:randomly", f"--xaio-matrix-report={report}")
    assert outcomes_by_id(result) == EXPECTED
    result.assert_outcomes(passed=len(EXPECTED))
    not_covered = [  # in route order
        "mount /legacy (Starlette): not covered (the matrix reads FastAPI routes; mount a FastAPI app there "
        "to have its routes tested)",
        "websocket /ws: not covered (the matrix sends HTTP requests; test it with websocket_connect)",
    ]
    result.stdout.fnmatch_lines(["*- endpoint matrix -*", "not covered:", *(f"  {line}" for line in not_covered)])
    data = json.loads(report.read_text())
    assert data["not_covered"] == not_covered
    assert set(data["routes"]) == {i.rsplit("-", 2)[0].rsplit("-", 1)[0] for i in EXPECTED}


def test_a_mounted_route_writes_into_the_test_transaction(pytester: pytest.Pytester) -> None:
    """Both cases insert k = 1: the second only passes when the first was rolled back, which needs
    the DB override on the sub-app (its own dependency_overrides), not only on the outer app."""
    make_project(pytester, options='(include=["/sub/*"], statuses=[201])')
    result = pytester.runpytest("-v", "-p", "no:randomly")
    assert outcomes_by_id(result) == {
        "POST /sub/once-201-success": "PASSED",
        "POST /sub/once-201-edge-values": "PASSED",
    }


def test_the_enum_cases_send_a_member_and_a_non_member(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    pytester.makepyfile(
        test_endpoints="""
import pytest

@pytest.mark.endpoint_matrix(include=["/colors/*"])
def test_endpoints(case):
    response = case.call()
    print("\\nSENT", case.id, response.request.url.path, response.status_code)
    case.validate(response)
"""
    )
    result = pytester.runpytest("-v", "-s", "-p", "no:randomly")
    sent = sorted(line for line in result.outlines if line.startswith("SENT"))
    assert re.fullmatch(r"SENT GET /colors/\{color\}-200-success /colors/(red|green) 200", sent[0])
    assert sent[1] == "SENT GET /colors/{color}-400-invalid-enum /colors/xaio-not-a-choice 422"


@pytest.mark.parametrize(
    ("app", "options", "message"),
    [
        (
            "empty",
            "",
            "*the endpoint matrix found no HTTP routes to test in the app 'matrix_inputs:empty' "
            "(its route table is empty)",
        ),
        (
            "sockets_only",
            "",
            "*found no HTTP routes to test in the app 'matrix_inputs:sockets_only' (websocket /ws: not covered*",
        ),
        ("app", '(include=["/nowhere/*"])', "*endpoint_matrix(include=?'/nowhere/?'?) leaves no case of the 4 routes*"),
    ],
)
def test_no_cases_at_all_is_one_error_naming_the_app_and_the_fix(
    pytester: pytest.Pytester, app: str, options: str, message: str
) -> None:
    make_project(pytester, app, options)
    result = pytester.runpytest("-v")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([message, "*fix: *"])
    out = result.stdout.str()
    assert "empty parameter set" not in out
    assert "Traceback" not in out
    assert out.count("fix: ") == 1
