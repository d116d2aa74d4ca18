"""What the endpoint matrix's tests and bench share about ``matrix_app``: schema, fixture, expected ids."""

from __future__ import annotations

SCHEMA = """
CREATE TABLE projects (
    id serial PRIMARY KEY,
    owner text NOT NULL,
    name text NOT NULL,
    kind text NOT NULL,
    retries integer NOT NULL DEFAULT 0
);
"""

PROJECT_FIXTURE = """
import pytest

@pytest.fixture
def project_id(xaio_db, xaio_user):
    return xaio_db.execute(
        "INSERT INTO projects (owner, name, kind) VALUES (%s, 'p', 'web') RETURNING id", (str(xaio_user.id),)
    ).fetchone()[0]
"""

AUTH5 = ("missing-auth", "malformed-header", "expired-token", "wrong-signature", "alg-none")


def auth_ids(route: str) -> list[str]:
    return [f"{route}-401-{name}" for name in AUTH5]


EXPECTED_IDS = [
    "POST /api/projects-201-success",
    "POST /api/projects-201-edge-values",
    "POST /api/projects-400-invalid-type",
    "POST /api/projects-400-missing-field",
    "POST /api/projects-400-invalid-enum",
    *auth_ids("POST /api/projects"),
    "GET /api/projects-200-success",
    "GET /api/projects-200-edge-values",
    "GET /api/projects-400-invalid-type",
    "GET /api/projects-400-invalid-enum",
    *auth_ids("GET /api/projects"),
    "GET /api/projects/{project_id}-200-success",
    "GET /api/projects/{project_id}-400-invalid-type",
    *auth_ids("GET /api/projects/{project_id}"),
    "GET /api/projects/{project_id}-403-other-users-resource",
    "GET /api/projects/{project_id}-404-missing-resource",
    "GET /api/projects/{project_id}-404-after-delete",
    "DELETE /api/projects/{project_id}-204-success",
    "DELETE /api/projects/{project_id}-400-invalid-type",
    *auth_ids("DELETE /api/projects/{project_id}"),
    "DELETE /api/projects/{project_id}-403-other-users-resource",
    "DELETE /api/projects/{project_id}-404-missing-resource",
    "GET /health-200-success",
]
