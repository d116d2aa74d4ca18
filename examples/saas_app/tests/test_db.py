"""The app runs against the test's migrated database, and nothing a test writes reaches the next one."""

import pytest


def test_schema_is_migrated_to_v075(xaio_db):
    versions = [row[0] for row in xaio_db.execute("SELECT version FROM xaio_schema_history ORDER BY version")]
    tables = {row[0] for row in xaio_db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}

    assert len(versions) == 75
    assert versions[-1] == "075"
    assert {
        "users",
        "projects",
        "deployments",
        "project_members",
        "project_env_vars",
        "project_events",
        "github_connections",
        "stripe_events",
        "waitlist",
    } <= tables


def test_app_reads_rows_the_test_wrote(xaio_client, xaio_user, project_factory):
    project = project_factory(xaio_user.id, name="Written by the test")

    response = xaio_client.get(f"/api/projects/{project['id']}")

    assert response.status_code == 200
    assert response.json()["name"] == "Written by the test"


def test_test_reads_rows_the_app_wrote(xaio_client, xaio_user, xaio_db):
    response = xaio_client.post("/api/projects", json={"name": "Written by the app", "pipeline_type": "docker"})

    assert response.status_code == 201
    row = xaio_db.execute(
        "SELECT owner_id, slug, pipeline_type FROM projects WHERE id = %s", (response.json()["id"],)
    ).fetchone()
    assert row == (xaio_user.id, "written-by-the-app", "docker")


@pytest.mark.parametrize("attempt", [1, 2])
def test_rows_do_not_leak_between_tests(attempt, xaio_client, xaio_db):
    # Whichever attempt runs second would see the first one's project if isolation leaked.
    leftover = xaio_db.execute("SELECT count(*) FROM projects WHERE name = 'leak check'").fetchone()[0]
    assert leftover == 0

    assert xaio_client.post("/api/projects", json={"name": "leak check"}).status_code == 201
    assert xaio_db.execute("SELECT count(*) FROM projects WHERE name = 'leak check'").fetchone()[0] == 1


def test_user_rows_come_from_the_hook(xaio_user, xaio_db):
    row = xaio_db.execute("SELECT email, plan, is_active FROM users WHERE id = %s", (xaio_user.id,)).fetchone()

    assert row == (xaio_user.email, "free", True)


def test_login_with_the_test_users_password(xaio_anon_client, xaio_user):
    response = xaio_anon_client.post("/api/auth/login", json={"email": xaio_user.email, "password": xaio_user.password})

    assert response.status_code == 200
    token = response.json()["access_token"]
    me = xaio_anon_client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["id"] == xaio_user.id
