"""Mocks only when asked: @pytest.mark.xaio_mock_db / xaio_db_mock record the session calls and block
real connections; every other test keeps the real database."""

from __future__ import annotations

import alembic.command  # noqa: F401
import fastapi  # noqa: F401
import pytest
import sqlalchemy  # noqa: F401  (outer-process imports: see test_db_migrations.py)
from fixtures_db import make_project

APP = """
import os

import psycopg
import sqlalchemy as sa
from fastapi import Depends, FastAPI
from sqlalchemy.orm import Session, sessionmaker

engine = sa.create_engine(os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://"))
SessionLocal = sessionmaker(engine)


def get_db():
    with SessionLocal() as session:
        yield session


app = FastAPI()


@app.post("/signup")
def signup(email: str, db: Session = Depends(get_db)):
    db.execute(sa.text("INSERT INTO waitlist (email) VALUES (:email)"), {"email": email})
    db.commit()
    return {"ok": True}


@app.get("/stray")
def stray():
    psycopg.connect(os.environ["DATABASE_URL"]).close()
    return {"ok": True}
"""

TESTS = """
import psycopg
import pytest
import sqlalchemy as sa


@pytest.mark.xaio_mock_db
def test_marker_records_calls(xaio_anon_client, xaio_db_mock):
    assert xaio_anon_client.post("/signup", params={"email": "a@example.com"}).json() == {"ok": True}
    assert xaio_db_mock.names == ["execute", "commit"]
    assert "INSERT INTO waitlist" in str(xaio_db_mock.executed[0])
    assert xaio_db_mock.calls[0].args[1] == {"email": "a@example.com"}
    assert xaio_db_mock.commits == 1


def test_fixture_alone_is_enough(xaio_anon_client, xaio_db_mock):
    xaio_anon_client.post("/signup", params={"email": "b@example.com"})
    assert xaio_db_mock.commits == 1


def test_real_database_is_the_default(xaio_anon_client, xaio_db):
    xaio_anon_client.post("/signup", params={"email": "c@example.com"})
    assert xaio_db.execute("SELECT email FROM waitlist").fetchall() == [("c@example.com",)]


def test_returns_and_service_level_use(xaio_db_mock):
    xaio_db_mock.returns("scalar", 7)
    assert xaio_db_mock.scalar(sa.text("SELECT count(*) FROM waitlist")) == 7
    assert xaio_db_mock.execute(sa.text("SELECT 1")).scalars().all() == []
    xaio_db_mock.add("row")
    xaio_db_mock.flush()
    assert xaio_db_mock.added == ["row"] and xaio_db_mock.names == ["scalar", "execute", "add", "flush"]
"""

BLOCKED = """
import psycopg
import pytest
import sqlalchemy as sa


@pytest.mark.xaio_mock_db
def test_app_opens_a_real_connection(xaio_anon_client):
    xaio_anon_client.get("/stray")


@pytest.mark.xaio_mock_db
def test_psycopg_connect(xaio_postgres):
    psycopg.connect(xaio_postgres.url)


def test_sqlalchemy_engine(xaio_db_mock, xaio_postgres):
    sa.create_engine(xaio_postgres.url.replace("postgresql://", "postgresql+psycopg://")).connect()


def test_unblocked_again(xaio_postgres):
    psycopg.connect(xaio_postgres.url).close()
"""

INI = ("xaio_app = mockapp:app", "xaio_db_dependency = mockapp:get_db", "pythonpath = .")


def test_mock_records_and_real_db_stays_default(pytester: pytest.Pytester) -> None:
    make_project(pytester, "sql", *INI)
    pytester.makepyfile(mockapp=APP, test_mock=TESTS)
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=4)


def test_real_connections_fail_loudly(pytester: pytest.Pytester) -> None:
    make_project(pytester, "sql", *INI)
    pytester.makepyfile(mockapp=APP, test_blocked=BLOCKED)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=3, passed=1)
    for where in ("psycopg.connect", "psycopg.connect", "SQLAlchemy Engine.connect"):
        result.stdout.fnmatch_lines(
            [
                "E *RealDatabaseBlocked: pytest-xaio: this test uses the mock database (@pytest.mark.xaio_mock_db or "
                f"the xaio_db_mock fixture), so it may not open a real database connection ({where}).",
                "E *  fix: let the code get its session from the app's DB dependency (xaio_db_dependency), or drop "
                "the mock to test against the real PostgreSQL",
            ]
        )
