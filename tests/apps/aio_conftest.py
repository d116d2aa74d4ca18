"""The async project's conftest: a user row and an item, made through xaio_db."""

import itertools
from typing import Any

import pytest

_numbers = itertools.count(1)


def pytest_xaio_create_user(db: Any, attrs: dict[str, Any]) -> dict[str, Any]:
    email = attrs.get("email", f"user{next(_numbers)}@example.com")
    row = db.execute("INSERT INTO users (email) VALUES (%s) RETURNING id, email", (email,)).fetchone()
    return {"id": row[0], "email": row[1]}


@pytest.fixture
def item_id(xaio_db: Any, xaio_user: Any) -> int:
    return int(
        xaio_db.execute(
            "INSERT INTO items (owner, name) VALUES (%s, %s) RETURNING id", (str(xaio_user["id"]), "fixture-item")
        ).fetchone()[0]
    )
