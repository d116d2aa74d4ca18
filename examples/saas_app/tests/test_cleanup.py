"""Deleting a project removes all six kinds of things hanging off it (services/cleanup.py):
deployments, members, env vars, events, the edge router's Redis keys, and the GitHub webhook."""


def test_deleting_a_published_project_cleans_up_everything(
    xaio_client, xaio_user, xaio_user_factory, xaio_db, xaio_redis, xaio_snapshot, github_fake
):
    # a project, with a second member, an env var, a connected repo, published
    project = xaio_client.post("/api/projects", json={"name": "Doomed Site"}).json()
    pid = project["id"]
    teammate = xaio_user_factory()
    xaio_db.execute(
        "INSERT INTO project_members (project_id, user_id, role) VALUES (%s, %s, 'viewer')", (pid, teammate.id)
    )
    xaio_db.execute("INSERT INTO project_env_vars (project_id, key, value) VALUES (%s, 'API_URL', 'x')", (pid,))
    github_fake.add_repo("octocat/doomed")
    connect = xaio_client.post(
        "/api/github/connect", json={"code": github_fake.authorize(), "repo": "octocat/doomed", "project_id": pid}
    )
    assert connect.status_code == 201
    [hook] = github_fake.hooks["octocat/doomed"]
    assert xaio_client.post(f"/api/projects/{pid}/publish").status_code == 200
    assert xaio_redis.keys(f"project:{pid}:*")
    events = xaio_db.execute("SELECT count(*) FROM project_events WHERE project_id = %s", (pid,)).fetchone()[0]
    assert events >= 1

    before = xaio_snapshot()
    github_fake.requests.clear()
    assert xaio_client.delete(f"/api/projects/{pid}").status_code == 204
    diff = xaio_snapshot().diff(before)

    diff.assert_only_removed(
        {
            "projects": 1,
            "deployments": 1,  # 1. deployments
            "project_members": 2,  # 2. members (owner and teammate)
            "project_env_vars": 1,  # 3. env vars
            "project_events": events,  # 4. event history
            "github_connections": 1,  # 6. the connection row
        }
    )
    diff.assert_no_rows_left(where={"project_id": pid})
    diff.assert_redis_removed(f"project:{pid}:*")  # 5. the edge router's keys
    assert github_fake.hooks["octocat/doomed"] == []  # 6. the webhook, deleted on GitHub
    assert [(r.method, r.path) for r in github_fake.requests] == [
        ("DELETE", f"/repos/octocat/doomed/hooks/{hook['id']}")
    ]
    # the users stay
    assert (
        xaio_db.execute("SELECT count(*) FROM users WHERE id IN (%s, %s)", (xaio_user.id, teammate.id)).fetchone()[0]
        == 2
    )


def test_a_github_failure_deletes_nothing(xaio_client, xaio_db, xaio_redis, xaio_snapshot, github_fake):
    pid = xaio_client.post("/api/projects", json={"name": "Keeper"}).json()["id"]
    github_fake.add_repo("octocat/keeper")
    xaio_client.post(
        "/api/github/connect", json={"code": github_fake.authorize(), "repo": "octocat/keeper", "project_id": pid}
    )
    xaio_client.post(f"/api/projects/{pid}/publish")
    # the user revoked the app on GitHub: the stored token now gets 401
    xaio_db.execute("UPDATE github_connections SET access_token = 'revoked' WHERE project_id = %s", (pid,))

    before = xaio_snapshot()
    response = xaio_client.delete(f"/api/projects/{pid}")
    diff = xaio_snapshot().diff(before)

    assert response.status_code == 502
    diff.assert_unchanged()
    assert len(github_fake.hooks["octocat/keeper"]) == 1
