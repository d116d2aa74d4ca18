"""The app's conftest: the app at the top, a user row per test user, and a pet for path parameters."""

import uuid
from types import SimpleNamespace

import pytest
from app.main import app  # noqa: F401  (imported at the top on purpose)


def pytest_xaio_create_user(db, attrs):
    email = attrs.get("email") or f"user-{uuid.uuid4().hex[:12]}@example.com"
    row = db.execute(
        "INSERT INTO user_account (email, hashed_password) VALUES (%s, 'not-a-real-hash') RETURNING user_id",
        (email,),
    ).fetchone()
    return SimpleNamespace(user_id=row[0], id=row[0], email=email)


@pytest.fixture
def pet_id(xaio_db, xaio_user):
    """A pet of the test user's, written through xaio_db (the matrix fills {pet_id} with it)."""
    row = xaio_db.execute(
        "INSERT INTO pet (owner_id, name) VALUES (%s, 'fixture pet') RETURNING id", (xaio_user.user_id,)
    ).fetchone()
    return row[0]
