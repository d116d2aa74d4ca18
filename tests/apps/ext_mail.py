"""An app that sends email with Brevo (SDK and plain HTTP) and connects GitHub repositories."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import brevo
import httpx
import requests
from fastapi import FastAPI, HTTPException, Request

BREVO_API_KEY = "xkeysib-test"
GITHUB_CLIENT_ID = "Iv1.test"
GITHUB_WEBHOOK_SECRET = "gh-secret"
WELCOME_TEMPLATE = 7

app = FastAPI()


@app.post("/api/waitlist")
def join_waitlist(body: dict[str, Any]) -> dict[str, Any]:
    client = brevo.Brevo(api_key=BREVO_API_KEY)
    try:
        client.contacts.create_contact(email=body["email"], attributes={"SOURCE": "waitlist"})
        sent = client.transactional_emails.send_transac_email(
            to=[{"email": body["email"], "name": body.get("name", "")}],
            template_id=WELCOME_TEMPLATE,
            params={"name": body.get("name", "")},
        )
    except brevo.core.api_error.ApiError as exc:
        raise HTTPException(502, f"brevo said {exc.status_code}") from exc
    return {"message_id": sent.message_id}


@app.post("/api/waitlist/async")
async def join_waitlist_async(body: dict[str, Any]) -> dict[str, Any]:
    client = brevo.AsyncBrevo(api_key=BREVO_API_KEY)
    sent = await client.transactional_emails.send_transac_email(
        to=[{"email": body["email"]}],
        subject="Welcome",
        html_content="<p>Hi</p>",
        sender={"email": "team@app.example"},
    )
    return {"message_id": sent.message_id}


@app.post("/api/invite")
def invite(body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(
        "https://api.brevo.com/v3/smtp/email",
        headers={"api-key": BREVO_API_KEY},
        timeout=5,
        json={
            "to": [{"email": body["email"]}],
            "subject": "You're invited",
            "htmlContent": "<p>Join us</p>",
            "sender": {"email": "team@app.example"},
        },
    )
    return {"status": response.status_code}


@app.post("/api/github/connect")
def connect_github(body: dict[str, Any]) -> dict[str, Any]:
    token = httpx.post(
        "https://github.com/login/oauth/access_token",
        headers={"Accept": "application/json"},
        data={"client_id": GITHUB_CLIENT_ID, "client_secret": "shh", "code": body["code"]},
    ).json()
    if "access_token" not in token:
        raise HTTPException(400, token.get("error", "oauth failed"))
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    with httpx.Client(base_url="https://api.github.com", headers=auth) as gh:
        user = gh.get("/user").json()
        repo = gh.get(f"/repos/{body['repo']}")
        if repo.status_code == 404:
            raise HTTPException(404, "no such repository")
        hook = gh.post(
            f"/repos/{body['repo']}/hooks",
            json={
                "config": {"url": "https://app.example/api/webhooks/github", "content_type": "json"},
                "events": ["push"],
            },
        ).json()
        issue = gh.post(f"/repos/{body['repo']}/issues", json={"title": "Connected to app"}).json()
    return {"login": user["login"], "hook": hook["id"], "issue": issue["number"]}


@app.post("/api/webhooks/github")
async def github_webhook(request: Request) -> dict[str, Any]:
    payload = await request.body()
    expected = "sha256=" + hmac.new(GITHUB_WEBHOOK_SECRET.encode(), payload, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("x-hub-signature-256", "")):
        raise HTTPException(401, "bad signature")
    return {"event": request.headers["x-github-event"]}
