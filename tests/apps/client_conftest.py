"""The project's conftest: how a user row is made."""

import itertools
from typing import Any

_numbers = itertools.count(1)


def pytest_xaio_create_user(db: Any, attrs: dict[str, Any]) -> Any:
    email = attrs.get("email", f"user{next(_numbers)}@example.com")
    row = db.execute(
        "INSERT INTO users (email, plan, is_superuser) VALUES (%s, %s, %s) RETURNING id, email, plan, is_superuser",
        (email, attrs.get("plan", "free"), attrs.get("is_superuser", False)),
    ).fetchone()
    return {"id": row[0], "email": row[1], "plan": row[2], "is_superuser": row[3]}
