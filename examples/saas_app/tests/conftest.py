"""What pytest-xaio needs to know about this app: how to make a user row, and a few data fixtures."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from psycopg import sql
from psycopg.rows import dict_row

#: Every test user's password (log in with ``user.password``).
TEST_PASSWORD = "correct horse battery staple"

_USER_COLUMNS = {
    "email",
    "name",
    "password_hash",
    "is_active",
    "is_superuser",
    "plan",
    "stripe_customer_id",
    "stripe_subscription_id",
    "subscription_status",
    "trial_ends_at",
    "last_login_at",
    "welcome_email_sent_at",
}
_numbers = itertools.count(1)
_password_hash: str | None = None


def _test_password_hash() -> str:
    global _password_hash
    if _password_hash is None:
        from saas_app.security import hash_password

        # Few iterations: the stored hash says how many, so login still verifies it.
        _password_hash = hash_password(TEST_PASSWORD, iterations=1_000)
    return _password_hash


def _insert(db: Any, table: str, values: dict[str, Any]) -> dict[str, Any]:
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING *").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(sql.Placeholder() * len(values)),
    )
    with db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query, list(values.values())).fetchone()
    assert row is not None
    return row


def pytest_xaio_create_user(db: Any, attrs: dict[str, Any]) -> SimpleNamespace:
    """A row in ``users``: defaults merged with what the test asked for (``xaio_user_factory(plan="pro")``)."""
    password = attrs.pop("password", None)
    unknown = set(attrs) - _USER_COLUMNS
    if unknown:
        raise TypeError(f"users has no column(s) {sorted(unknown)}; known: {sorted(_USER_COLUMNS)}")
    n = next(_numbers)
    values: dict[str, Any] = {
        "email": f"user{n}@example.com",
        "name": f"Test User {n}",
        "password_hash": _test_password_hash(),
        "plan": "free",
    }
    values.update(attrs)
    if password is not None:
        from saas_app.security import hash_password

        values["password_hash"] = hash_password(password, iterations=1_000)
    row = _insert(db, "users", values)
    return SimpleNamespace(**row, password=password or TEST_PASSWORD)


@pytest.fixture
def project_factory(xaio_db: Any) -> Callable[..., dict[str, Any]]:
    """Insert a project row (in the test's transaction) for an owner; returns the row as a dict.

    Example::

        def test_list(project_factory, xaio_user):
            project = project_factory(xaio_user.id, name="Docs", pipeline_type="docker")
    """

    def make(owner_id: int, **attrs: Any) -> dict[str, Any]:
        from saas_app.services.slug import slugify

        n = next(_numbers)
        values: dict[str, Any] = {"name": f"Project {n}", "pipeline_type": "static", **attrs}
        values.setdefault("slug", f"{slugify(values['name'])[:50]}-{n}")
        row = _insert(xaio_db, "projects", {"owner_id": owner_id, **values})
        xaio_db.execute(
            "INSERT INTO project_members (project_id, user_id, role) VALUES (%s, %s, 'owner')",
            (row["id"], owner_id),
        )
        return row

    return make


@pytest.fixture
def project_id(xaio_user: Any, project_factory: Callable[..., dict[str, Any]]) -> int:
    """The id of a real project owned by ``xaio_user`` (fills ``{project_id}`` in the endpoint matrix)."""
    return int(project_factory(xaio_user.id)["id"])


# --- endpoint matrix bodies ---------------------------------------------------------------------
# Generated bodies cannot know which OAuth codes GitHub issued, or a user's password; these routes
# get a body from here (the matrix still sends it with each case's credentials).
_requests: list[pytest.FixtureRequest] = []


@pytest.fixture(autouse=True)
def _current_request(request: pytest.FixtureRequest) -> Iterator[None]:
    _requests.append(request)
    yield
    _requests.pop()


def pytest_xaio_payload(case: Any) -> Any:
    request = _requests[-1]
    key = f"{case.method} {case.path}"
    if key == "POST /api/auth/register":
        return {"email": f"new-{uuid.uuid4().hex[:12]}@example.com", "password": TEST_PASSWORD, "name": "New User"}
    if key == "POST /api/auth/login":
        user = request.getfixturevalue("xaio_user")
        return {"email": user.email, "password": user.password}
    if key == "POST /api/waitlist":
        return {"email": f"beta-{uuid.uuid4().hex[:12]}@example.com", "name": "Early Bird"}
    if key == "POST /api/github/connect":
        github = request.getfixturevalue("github_fake")
        github.add_repo("octocat/site")
        return {"code": github.authorize(), "repo": "octocat/site"}
    return None
