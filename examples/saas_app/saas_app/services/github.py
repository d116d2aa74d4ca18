"""GitHub: OAuth code exchange, repository lookup and push webhooks, over plain HTTP (httpx)."""

from __future__ import annotations

from typing import Any

import httpx

from saas_app.settings import settings

__all__ = [
    "API_URL",
    "BadOAuthCode",
    "GithubError",
    "RepoNotFound",
    "create_webhook",
    "delete_webhook",
    "exchange_code",
    "get_repo",
]

API_URL = "https://api.github.com"
OAUTH_URL = "https://github.com/login/oauth/access_token"
_TIMEOUT = httpx.Timeout(10.0)


class GithubError(Exception):
    """GitHub refused or failed a call."""


class BadOAuthCode(GithubError):
    """The OAuth code was wrong, expired or already used: the user's input, not GitHub's fault."""


class RepoNotFound(GithubError):
    pass


def _headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }


def exchange_code(code: str) -> str:
    """Trade an OAuth ``code`` for an access token."""
    with httpx.Client(timeout=_TIMEOUT) as client:
        response = client.post(
            OAUTH_URL,
            data={"client_id": settings.github_client_id, "client_secret": settings.github_client_secret, "code": code},
            headers={"Accept": "application/json"},
        )
    if response.status_code != 200:
        raise GithubError(f"token exchange failed with HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise GithubError("token exchange failed: the response is not JSON") from None
    token = body.get("access_token") if isinstance(body, dict) else None
    if not token:
        if isinstance(body, dict) and body.get("error"):
            raise BadOAuthCode(f"token exchange failed: {body['error']}")
        raise GithubError("token exchange failed: no access_token in the response")
    return str(token)


def get_repo(token: str, full_name: str) -> dict[str, Any]:
    with httpx.Client(base_url=API_URL, timeout=_TIMEOUT) as client:
        response = client.get(f"/repos/{full_name}", headers=_headers(token))
    if response.status_code == 404:
        raise RepoNotFound(f"repository {full_name} not found or not accessible")
    if response.status_code != 200:
        raise GithubError(f"reading {full_name} failed with HTTP {response.status_code}")
    repo: dict[str, Any] = response.json()
    return repo


def create_webhook(token: str, full_name: str, url: str) -> int:
    """Subscribe ``url`` to pushes on the repository; returns the hook id."""
    config: dict[str, str] = {"url": url, "content_type": "json"}
    if settings.github_webhook_secret:
        config["secret"] = settings.github_webhook_secret
    with httpx.Client(base_url=API_URL, timeout=_TIMEOUT) as client:
        response = client.post(
            f"/repos/{full_name}/hooks",
            headers=_headers(token),
            json={"name": "web", "active": True, "events": ["push"], "config": config},
        )
    if response.status_code not in (200, 201):
        raise GithubError(f"creating a webhook on {full_name} failed with HTTP {response.status_code}")
    return int(response.json()["id"])


def delete_webhook(token: str, full_name: str, hook_id: int) -> bool:
    """Remove a webhook; False when GitHub no longer has it (already removed by hand)."""
    with httpx.Client(base_url=API_URL, timeout=_TIMEOUT) as client:
        response = client.delete(f"/repos/{full_name}/hooks/{hook_id}", headers=_headers(token))
    if response.status_code == 404:
        return False
    if response.status_code not in (200, 204):
        raise GithubError(f"deleting webhook {hook_id} on {full_name} failed with HTTP {response.status_code}")
    return True
