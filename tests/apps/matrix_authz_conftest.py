"""conftest.py of the matrix_authz projects (tests/test_matrix_authz.py and bench/bench_matrix.py)."""

import itertools
from types import SimpleNamespace
from typing import Any

import pytest

_numbers = itertools.count(1)


def pytest_xaio_create_user(db: Any, attrs: dict[str, Any]) -> Any:
    n = next(_numbers)
    row = db.execute(
        "INSERT INTO users (email, name, is_superuser) VALUES (%s, %s, %s) RETURNING id, email",
        (f"user{n}@example.com", f"User {n}", bool(attrs.get("is_superuser", False))),
    ).fetchone()
    return SimpleNamespace(id=row[0], email=row[1], is_superuser=bool(attrs.get("is_superuser", False)))


def pytest_xaio_payload(case: Any) -> Any:
    if case.path == "/auth/login":
        user = case.request.getfixturevalue("xaio_user")
        return {"username": user.email, "password": "correct horse"}
    return None


@pytest.fixture
def note_id(xaio_db: Any, xaio_user: Any) -> int:
    return int(
        xaio_db.execute(
            "INSERT INTO notes (owner_id, title, body) VALUES (%s, 'groceries', 'milk') RETURNING id", (xaio_user.id,)
        ).fetchone()[0]
    )


@pytest.fixture
def task_id(xaio_db: Any, xaio_user: Any) -> int:
    return int(
        xaio_db.execute(
            "INSERT INTO tasks (owner_id, title) VALUES (%s, 'water the plants') RETURNING id", (xaio_user.id,)
        ).fetchone()[0]
    )


@pytest.fixture
def email(xaio_user: Any) -> str:
    return str(xaio_user.email)
