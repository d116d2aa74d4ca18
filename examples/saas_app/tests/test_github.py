"""Connecting a GitHub repository: the OAuth code exchange, the repo check and the push webhook."""

import pytest


def test_connect_a_repo_to_a_project(xaio_client, xaio_user, project_id, github_fake, xaio_db):
    github_fake.add_repo("octocat/site", default_branch="trunk")
    code = github_fake.authorize()

    response = xaio_client.post(
        "/api/github/connect", json={"code": code, "repo": "octocat/site", "project_id": project_id}
    )

    assert response.status_code == 201
    [hook] = github_fake.hooks["octocat/site"]
    assert hook["events"] == ["push"]
    assert response.json() == {
        "id": response.json()["id"],
        "repo_full_name": "octocat/site",
        "project_id": project_id,
        "default_branch": "trunk",
        "webhook_id": hook["id"],
    }
    row = xaio_db.execute(
        "SELECT user_id, webhook_id FROM github_connections WHERE project_id = %s", (project_id,)
    ).fetchone()
    assert row == (xaio_user.id, hook["id"])


def test_connect_without_a_project_adds_no_webhook(xaio_client, github_fake):
    github_fake.add_repo("octocat/notes")

    response = xaio_client.post("/api/github/connect", json={"code": github_fake.authorize(), "repo": "octocat/notes"})

    assert response.status_code == 201
    assert response.json()["webhook_id"] is None
    assert github_fake.hooks["octocat/notes"] == []


def test_a_bad_oauth_code_is_400(xaio_client, github_fake, xaio_db):
    github_fake.add_repo("octocat/site")

    response = xaio_client.post("/api/github/connect", json={"code": "not-issued", "repo": "octocat/site"})

    assert response.status_code == 400
    assert xaio_db.execute("SELECT count(*) FROM github_connections").fetchone()[0] == 0


def test_an_unknown_repo_is_404(xaio_client, github_fake):
    response = xaio_client.post("/api/github/connect", json={"code": github_fake.authorize(), "repo": "octocat/nope"})

    assert response.status_code == 404


def test_someone_elses_project_is_404_before_any_github_call(
    xaio_client, xaio_user_factory, project_factory, github_fake
):
    theirs = project_factory(xaio_user_factory().id)

    response = xaio_client.post(
        "/api/github/connect", json={"code": "abc", "repo": "octocat/site", "project_id": theirs["id"]}
    )

    assert response.status_code == 404
    assert github_fake.requests == []


@pytest.mark.parametrize("repo", ["octocat", "octocat/..", "../etc", "a/b/c", "octo cat/site"])
def test_a_malformed_repo_name_is_400(xaio_client, github_fake, repo):
    response = xaio_client.post("/api/github/connect", json={"code": "abc", "repo": repo})

    assert response.status_code == 400
    assert github_fake.requests == []
