"""POST /api/projects: created, over the plan's limit, and invalid input."""

import pytest


def _bearer(xaio_token, user):
    return xaio_token.headers(xaio_token.for_user(user))


def test_logged_in_user_creates_a_project(xaio_client, xaio_user, xaio_db):
    response = xaio_client.post("/api/projects", json={"name": "My Landing Page", "pipeline_type": "static"})

    assert response.status_code == 201
    body = response.json()
    assert body["owner_id"] == xaio_user.id
    assert body["slug"] == "my-landing-page"
    assert body["pipeline_type"] == "static"
    assert body["published"] is False
    members = xaio_db.execute(
        "SELECT user_id, role FROM project_members WHERE project_id = %s", (body["id"],)
    ).fetchall()
    assert members == [(xaio_user.id, "owner")]


def test_free_plan_over_its_limit_is_402(xaio_anon_client, xaio_user_factory, xaio_token, project_factory, xaio_db):
    user = xaio_user_factory(plan="free")
    for n in range(3):
        project_factory(user.id, name=f"existing {n}")

    response = xaio_anon_client.post(
        "/api/projects", json={"name": "one too many", "pipeline_type": "docker"}, headers=_bearer(xaio_token, user)
    )

    assert response.status_code == 402
    assert xaio_db.execute("SELECT count(*) FROM projects WHERE owner_id = %s", (user.id,)).fetchone()[0] == 3


def test_paid_plan_is_not_held_to_the_free_limit(xaio_anon_client, xaio_user_factory, xaio_token, project_factory):
    user = xaio_user_factory(plan="pro")
    for n in range(3):
        project_factory(user.id, name=f"existing {n}")

    response = xaio_anon_client.post("/api/projects", json={"name": "fourth"}, headers=_bearer(xaio_token, user))

    assert response.status_code == 201


@pytest.mark.parametrize("pipeline_type", ["cobol", "", "STATIC", None, 3])
def test_invalid_pipeline_type_is_400(xaio_client, xaio_user, xaio_db, pipeline_type):
    response = xaio_client.post("/api/projects", json={"name": "bad pipeline", "pipeline_type": pipeline_type})

    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"] == ["body", "pipeline_type"]
    assert xaio_db.execute("SELECT count(*) FROM projects WHERE owner_id = %s", (xaio_user.id,)).fetchone()[0] == 0


def test_same_name_twice_gets_a_distinct_slug(xaio_client):
    first = xaio_client.post("/api/projects", json={"name": "Blog"})
    second = xaio_client.post("/api/projects", json={"name": "Blog"})

    assert (first.status_code, second.status_code) == (201, 201)
    assert [first.json()["slug"], second.json()["slug"]] == ["blog", "blog-2"]


def test_other_users_project_is_404(xaio_client, xaio_user_factory, project_factory):
    stranger = xaio_user_factory()
    theirs = project_factory(stranger.id)

    assert xaio_client.get(f"/api/projects/{theirs['id']}").status_code == 404
    assert xaio_client.delete(f"/api/projects/{theirs['id']}").status_code == 404


def test_publish_records_a_deployment_and_tells_the_edge(xaio_client, project_id, xaio_db, xaio_redis):
    response = xaio_client.post(f"/api/projects/{project_id}/publish")

    assert response.status_code == 200
    assert response.json()["published"] is True
    status = xaio_db.execute("SELECT status FROM deployments WHERE project_id = %s", (project_id,)).fetchall()
    assert status == [("live",)]
    assert xaio_redis.get(f"project:{project_id}:status") == "published"
    assert xaio_redis.hget(f"project:{project_id}:route", "slug") is not None
