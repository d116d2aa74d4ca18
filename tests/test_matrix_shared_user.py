"""The consecutive cases of one matrix test share one xaio_user row (made once, before each case's
savepoint) and still see nothing another case wrote: not its notes, not its extra users, not its
changes to the shared user; once the run is over the row is gone too. Real PostgreSQL, the matrix's
acceptance app (tests/apps/matrix_authz.py)."""

from __future__ import annotations

import json

import pytest
from test_matrix_authz import make_project, outcomes_by_id

pytest.importorskip("fastapi")
pytest.importorskip("multipart")

# Appended to the project's conftest: count the hook's calls and, as each matrix case starts (an
# autouse fixture, so before the case's own fixtures), write down what the database holds.
RECORDER = """

import json
import os

_original_create_user = pytest_xaio_create_user


def pytest_xaio_create_user(db, attrs):
    with open(os.environ["SEEN_FILE"] + ".made", "a") as made:
        made.write(json.dumps(attrs) + "\\n")
    return _original_create_user(db, attrs)


@pytest.fixture(autouse=True)
def _record(request):
    if request.node.get_closest_marker("endpoint_matrix") is None:
        return
    db = request.getfixturevalue("xaio_db")
    users = db.execute("SELECT id, email, name FROM users ORDER BY id").fetchall()
    notes = db.execute("SELECT count(*) FROM notes").fetchone()[0]
    tasks = db.execute("SELECT count(*) FROM tasks").fetchone()[0]
    with open(os.environ["SEEN_FILE"], "a") as seen:
        seen.write(json.dumps({"id": request.node.callspec.id, "users": users, "notes": notes, "tasks": tasks}) + "\\n")
"""

AFTER = """
def test_zz_after_the_matrix(xaio_db):
    assert xaio_db.execute("SELECT count(*) FROM users").fetchone()[0] == 0
    assert xaio_db.execute("SELECT count(*) FROM notes").fetchone()[0] == 0
"""


def test_cases_share_one_user_row_and_nothing_else(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    make_project(pytester, "correct")
    conftest = pytester.path / "conftest.py"
    conftest.write_text(conftest.read_text() + RECORDER)
    pytester.makepyfile(test_zz_after=AFTER)
    seen_file = pytester.path / "seen.jsonl"
    monkeypatch.setenv("SEEN_FILE", str(seen_file))

    result = pytester.runpytest("-p", "no:randomly", "-v", "test_endpoints.py::test_endpoints", "test_zz_after.py")

    outcomes = outcomes_by_id(result)
    assert outcomes, result.stdout.str()[-3000:]
    assert set(outcomes.values()) == {"PASSED"}, result.stdout.str()[-3000:]
    result.assert_outcomes(passed=len(outcomes) + 1)
    seen = [json.loads(line) for line in seen_file.read_text().splitlines()]
    assert len(seen) == len(outcomes)
    # Each case starts with exactly one user, the same row with the same values, and no notes or
    # tasks: PATCH /api/me's success case changed that user, POST /api/notes and the note_id / task_id
    # fixtures wrote notes and tasks, the not-admin and other-users cases made users of their own.
    first = seen[0]["users"]
    assert len(first) == 1
    assert [case["id"] for case in seen if case["users"] != first] == []
    assert [case["id"] for case in seen if case["notes"] or case["tasks"]] == []
    # The project's hook made the shared user once; the second users (no attributes either) and the
    # admins are made per case.
    made = [json.loads(line) for line in (pytester.path / "seen.jsonl.made").read_text().splitlines()]
    others = sum(1 for case in outcomes if case.endswith("-403-other-users-resource"))
    assert others > 0
    assert made.count({}) == 1 + others, made
    assert made.count({"is_superuser": True}) == len(made) - 1 - others > 0, made


# A test after the matrix that empties tables (TRUNCATE waits for the locks of any open transaction
# on them: the run of cases must have ended), and a case that ends the run itself with a real
# ROLLBACK (the shared row goes with it, so the next case makes it again).
TRUNCATING = """
import pytest


@pytest.mark.xaio_db(isolation="truncate")
def test_zz_truncate(xaio_db):
    xaio_db.execute("INSERT INTO users (email, name) VALUES ('t@example.com', 'T')")
    assert xaio_db.execute("SELECT count(*) FROM users").fetchone()[0] == 1
"""

BREAKER = """


@pytest.fixture(autouse=True)
def _break_the_run(request, xaio_db):
    yield
    if request.node.name.endswith("[GET /api/me-200-success]"):
        xaio_db.execute("ROLLBACK")  # past the savepoint: the run is over
"""


# The same case instead has its worker connection ended by the server (an admin's
# pg_terminate_backend, waited for) just before its closing rollback, which is sent without waiting
# for the answer: the next case finds the connection gone, connects again and makes the row again.
KILLER = """


@pytest.fixture(autouse=True)
def _break_the_run(request, xaio_db, xaio_database):
    yield
    if request.node.name.endswith("[GET /api/me-200-success]"):
        import time

        import psycopg

        pid = xaio_db.execute("SELECT pg_backend_pid()").fetchone()[0]
        with psycopg.connect(xaio_database.url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0]:
                time.sleep(0.01)
"""


@pytest.mark.parametrize(
    ("args", "breaker"),
    [(("-p", "no:randomly"), BREAKER), (("-p", "no:randomly"), KILLER), (("-p", "no:randomly", "-n", "2"), "")],
    ids=["broken-run", "killed-connection", "xdist"],
)
def test_runs_end_cleanly(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], breaker: str
) -> None:
    make_project(pytester, "correct")
    conftest = pytester.path / "conftest.py"
    broken = bool(breaker)
    conftest.write_text(conftest.read_text() + RECORDER + breaker)
    pytester.makepyfile(test_zz_after=AFTER, test_zz_truncate=TRUNCATING)
    seen_file = pytester.path / "seen.jsonl"
    monkeypatch.setenv("SEEN_FILE", str(seen_file))

    result = pytester.runpytest(*args, "test_endpoints.py::test_endpoints", "test_zz_after.py", "test_zz_truncate.py")

    result.assert_outcomes(passed=len(seen_file.read_text().splitlines()) + 2)
    seen = [json.loads(line) for line in seen_file.read_text().splitlines()]
    assert [case["id"] for case in seen if len(case["users"]) != 1 or case["notes"] or case["tasks"]] == []
    made = [json.loads(line) for line in (pytester.path / "seen.jsonl.made").read_text().splitlines()]
    others = sum(1 for case in seen if case["id"].endswith("-403-other-users-resource"))
    if broken:  # the run started again after the case that ended it
        assert made.count({}) == 2 + others, made
        assert len({tuple(case["users"][0]) for case in seen}) == 2
    else:  # one run per worker
        assert made.count({}) <= 2 + others, made


# A conftest's own xaio_token: the matrix must use it for every case that sends xaio_user's token
# (the run's shared row is minted for directly only while the plugin's own fixtures are in force).
OWN_TOKEN = """


@pytest.fixture
def xaio_token(_xaio_token_factory, xaio_user, request):
    with open(os.environ["SEEN_FILE"] + ".token", "a") as used:
        used.write(request.node.callspec.id + "\\n")
    return _xaio_token_factory.bind(xaio_user)
"""


def test_a_conftest_xaio_token_is_used(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    make_project(pytester, "correct")
    conftest = pytester.path / "conftest.py"
    conftest.write_text(conftest.read_text() + "\nimport os\n" + OWN_TOKEN)
    seen_file = pytester.path / "seen.jsonl"
    monkeypatch.setenv("SEEN_FILE", str(seen_file))

    result = pytester.runpytest("-p", "no:randomly", "-v", "test_endpoints.py::test_endpoints")

    outcomes = outcomes_by_id(result)
    assert outcomes, result.stdout.str()[-3000:]
    assert set(outcomes.values()) == {"PASSED"}, result.stdout.str()[-3000:]
    used = set((pytester.path / "seen.jsonl.token").read_text().splitlines())
    assert {"GET /api/me-200-success", "GET /api/me-401-expired-token", "GET /api/notes-200-edge-values"} <= used
    assert "GET /api/me-401-missing-auth" not in used  # it sends no token
