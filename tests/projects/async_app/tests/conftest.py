"""The app's conftest: the app at the top, and a user row per test user."""

import uuid
from types import SimpleNamespace

from app.main import app  # noqa: F401  (imported at the top on purpose)


def pytest_xaio_create_user(db, attrs):
    email = attrs.get("email") or f"user-{uuid.uuid4().hex[:12]}@example.com"
    row = db.execute(
        "INSERT INTO user_account (email, hashed_password) VALUES (%s, 'not-a-real-hash') RETURNING user_id",
        (email,),
    ).fetchone()
    return SimpleNamespace(user_id=row[0], id=row[0], email=email)
