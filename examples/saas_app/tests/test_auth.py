"""Sign-up (with the Brevo welcome email), login, and the tokens the app must refuse."""

import pytest


def test_register_creates_a_free_user_and_sends_the_welcome_email(xaio_anon_client, brevo_fake, xaio_db):
    response = xaio_anon_client.post(
        "/api/auth/register", json={"email": "Ada@Example.com", "password": "analytical-engine", "name": "Ada"}
    )

    assert response.status_code == 201
    assert response.json()["email"] == "ada@example.com"
    assert response.json()["plan"] == "free"
    [email] = brevo_fake.emails_to("ada@example.com")
    assert email.template_id == 1
    assert email.params == {"name": "Ada", "plan": "free"}
    sent_at = xaio_db.execute("SELECT welcome_email_sent_at FROM users WHERE email = 'ada@example.com'").fetchone()
    assert sent_at[0] is not None


def test_a_failing_email_provider_does_not_fail_the_signup(xaio_anon_client, brevo_fake, xaio_db):
    brevo_fake.fail_next(status=500, code="internal_error")

    response = xaio_anon_client.post("/api/auth/register", json={"email": "bob@example.com", "password": "12345678"})

    assert response.status_code == 201
    assert brevo_fake.outbox == []
    sent_at = xaio_db.execute("SELECT welcome_email_sent_at FROM users WHERE email = 'bob@example.com'").fetchone()
    assert sent_at == (None,)


def test_an_email_registers_once_whatever_its_case(xaio_anon_client, xaio_user, brevo_fake):
    response = xaio_anon_client.post(
        "/api/auth/register", json={"email": xaio_user.email.upper(), "password": "another-password"}
    )

    assert response.status_code == 409
    assert brevo_fake.outbox == []


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": "long enough"},
        {"email": "short@example.com", "password": "short"},
        {"password": "long enough"},
    ],
)
def test_invalid_signups_are_400(xaio_anon_client, body):
    assert xaio_anon_client.post("/api/auth/register", json=body).status_code == 400


def test_login_returns_a_token_the_app_accepts(xaio_anon_client, xaio_user):
    response = xaio_anon_client.post("/api/auth/login", json={"email": xaio_user.email, "password": xaio_user.password})

    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"
    me = xaio_anon_client.get("/api/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == xaio_user.id


@pytest.mark.parametrize("password", ["wrong password", ""])
def test_login_with_a_wrong_password_is_refused(xaio_anon_client, xaio_user, password):
    response = xaio_anon_client.post("/api/auth/login", json={"email": xaio_user.email, "password": password})

    assert response.status_code in (400, 401)
    assert "access_token" not in response.json()


def test_an_inactive_user_cannot_log_in_or_use_a_token(xaio_anon_client, xaio_user_factory, xaio_token):
    user = xaio_user_factory(is_active=False)

    login = xaio_anon_client.post("/api/auth/login", json={"email": user.email, "password": user.password})
    me = xaio_anon_client.get("/api/me", headers=xaio_token.headers(xaio_token.for_user(user)))

    assert (login.status_code, me.status_code) == (401, 401)


@pytest.mark.parametrize("kind", ["expired", "not_yet_valid", "wrong_signature", "alg_none", "malformed"])
def test_broken_tokens_are_401(xaio_anon_client, xaio_token, kind):
    token = getattr(xaio_token, kind)()

    response = xaio_anon_client.get("/api/me", headers=xaio_token.headers(token))

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_token_for_a_user_that_does_not_exist_is_401(xaio_anon_client, xaio_token):
    token = xaio_token.for_user(None, sub="999999999")

    assert xaio_anon_client.get("/api/me", headers=xaio_token.headers(token)).status_code == 401
