"""The app's own conftest: it imports the app at the top, as the template's does."""

import uuid
from types import SimpleNamespace

from app.core.security import get_password_hash
from app.main import app  # noqa: F401  (imported at the top on purpose: the plugin must be first)

TEST_PASSWORD = "changethis-please"


def pytest_xaio_create_user(db, attrs):
    """One row in "user" per test user; the returned row's id is a UUID, so tokens carry it."""
    email = attrs.get("email") or f"user-{uuid.uuid4().hex[:12]}@example.com"
    row = db.execute(
        'INSERT INTO "user" (id, email, is_active, is_superuser, full_name, hashed_password) '
        "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (
            uuid.uuid4(),
            email,
            attrs.get("is_active", True),
            attrs.get("is_superuser", False),
            attrs.get("full_name"),
            get_password_hash(TEST_PASSWORD),
        ),
    ).fetchone()
    return SimpleNamespace(id=row[0], email=email, password=TEST_PASSWORD, **attrs)
