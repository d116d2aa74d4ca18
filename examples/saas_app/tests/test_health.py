"""The health check is public and reaches the database."""


def test_health_needs_no_token(xaio_anon_client):
    response = xaio_anon_client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_unknown_route_is_404(xaio_anon_client):
    assert xaio_anon_client.get("/api/nothing-here").status_code == 404


def test_protected_route_without_token_is_401_with_a_challenge(xaio_anon_client):
    response = xaio_anon_client.get("/api/me")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_me_is_the_test_user(xaio_client, xaio_user):
    response = xaio_client.get("/api/me")

    assert response.status_code == 200
    assert response.json()["id"] == xaio_user.id
    assert response.json()["email"] == xaio_user.email
