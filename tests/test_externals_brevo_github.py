"""The Brevo and GitHub fakes, driven through an app that uses brevo-python, requests and httpx."""

from __future__ import annotations

from pathlib import Path

import pytest

APPS = Path(__file__).parent / "apps"


@pytest.fixture
def mail_app(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(ext_mail=(APPS / "ext_mail.py").read_text())
    pytester.makeini("[pytest]\nxaio_postgres = none\nxaio_github_webhook_secret = gh-secret\n")
    pytester.makeconftest(
        """
        import pytest
        from fastapi.testclient import TestClient

        @pytest.fixture
        def client():
            from ext_mail import app
            return TestClient(app)
        """
    )
    return pytester


def test_brevo_outbox(mail_app: pytest.Pytester) -> None:
    mail_app.makepyfile(
        """
        def test_sdk_email_and_contact(client, brevo_fake):
            response = client.post("/api/waitlist", json={"email": "ada@example.com", "name": "Ada"})
            assert response.status_code == 200, response.text
            (mail,) = brevo_fake.outbox
            assert mail.to == ["ada@example.com"] and mail.template_id == 7 and mail.params == {"name": "Ada"}
            assert response.json() == {"message_id": mail.message_id}
            assert brevo_fake.contacts["ada@example.com"]["attributes"] == {"SOURCE": "waitlist"}

        def test_async_sdk(client, brevo_fake):
            client.post("/api/waitlist/async", json={"email": "bob@example.com"})
            assert brevo_fake.emails_to("bob@example.com")[0].subject == "Welcome"

        def test_plain_http(client, brevo_fake):
            assert client.post("/api/invite", json={"email": "cy@example.com"}).json() == {"status": 201}
            (mail,) = brevo_fake.outbox
            assert (mail.to, mail.subject, mail.template_id, mail.sender) == (
                ["cy@example.com"], "You're invited", None, "team@app.example")

        def test_fail_next(client, brevo_fake):
            brevo_fake.fail_next(status=400)
            assert client.post("/api/waitlist", json={"email": "ada@example.com"}).status_code == 502
            assert brevo_fake.outbox == []
        """
    )
    mail_app.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=4)


def test_github_connect_and_webhooks(mail_app: pytest.Pytester) -> None:
    mail_app.makepyfile(
        """
        def test_connect(client, github_fake):
            github_fake.add_repo("ada/engine")
            code = github_fake.authorize(login="ada")
            response = client.post("/api/github/connect", json={"code": code, "repo": "ada/engine"})
            assert response.status_code == 200, response.text
            (hook,) = github_fake.hooks["ada/engine"]
            assert response.json() == {"login": "ada", "hook": hook["id"], "issue": 1}
            assert github_fake.issues["ada/engine"][0]["title"] == "Connected to app"
            assert [r.path for r in github_fake.requests][:2] == ["/login/oauth/access_token", "/user"]

        def test_bad_code(client, github_fake):
            response = client.post("/api/github/connect", json={"code": "nope", "repo": "ada/engine"})
            assert response.json() == {"detail": "bad_verification_code"}

        def test_unknown_repo(client, github_fake):
            code = github_fake.authorize()
            assert client.post("/api/github/connect", json={"code": code, "repo": "x/y"}).status_code == 404

        def test_signed_webhook(client, github_fake):
            hook = github_fake.webhook("push", {"ref": "refs/heads/main"})
            assert github_fake.send(client, hook).json() == {"event": "push"}
            assert github_fake.send(client, hook.tampered()).status_code == 401
        """
    )
    mail_app.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=4)
