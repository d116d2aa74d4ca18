"""The GitHub fake: repos, issues, repo webhooks, the OAuth token exchange, and signed webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from pytest_xaio.externals.http import FakeRequest, FakeResponse

__all__ = ["GITHUB_HOSTS", "GithubFake", "GithubWebhook"]

GITHUB_HOSTS = ("api.github.com", "github.com")


@dataclass(frozen=True)
class GithubWebhook:
    """A webhook delivery: ``payload`` bytes and ``headers`` (X-GitHub-Event, X-Hub-Signature-256)."""

    event: str
    payload: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.payload)

    def tampered(self) -> GithubWebhook:
        return GithubWebhook(self.event, self.payload, {**self.headers, "X-Hub-Signature-256": "sha256=" + "0" * 64})


class GithubFake:
    """Answers ``api.github.com`` and ``github.com/login/oauth/access_token``.

    Arrange with :meth:`add_repo` and :meth:`authorize` (an OAuth code that exchanges for a token);
    read :attr:`repos`, :attr:`issues`, :attr:`hooks`, :attr:`requests`; sign with :meth:`webhook`.
    """

    def __init__(self, webhook_secret: str | Callable[[], str | None] | None = None) -> None:
        self.repos: dict[str, dict[str, Any]] = {}
        self.issues: dict[str, list[dict[str, Any]]] = {}
        self.hooks: dict[str, list[dict[str, Any]]] = {}
        self.codes: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        self.requests: list[FakeRequest] = []
        self.login = "octocat"
        self._secret = webhook_secret
        self._next_id = 1000

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    # --- arranging --------------------------------------------------------------------------------
    def add_repo(self, full_name: str, *, private: bool = False, **fields: Any) -> dict[str, Any]:
        owner, _, name = full_name.partition("/")
        repo = {
            "id": self._id(),
            "name": name,
            "full_name": full_name,
            "private": private,
            "owner": {"login": owner, "id": self._id(), "type": "User"},
            "html_url": f"https://github.com/{full_name}",
            "default_branch": "main",
            **fields,
        }
        self.repos[full_name] = repo
        self.issues.setdefault(full_name, [])
        self.hooks.setdefault(full_name, [])
        return repo

    def authorize(self, code: str | None = None, *, login: str | None = None) -> str:
        """An OAuth ``code`` the app can exchange; returns the code (a fresh one when None)."""
        code = code or secrets.token_hex(10)
        self.codes[code] = "gho_" + secrets.token_hex(18)
        if login:
            self.login = login
        return code

    # --- the API ------------------------------------------------------------------------------------
    def handle(self, request: FakeRequest) -> FakeResponse:
        self.requests.append(request)
        if request.host == "github.com":
            if request.method == "POST" and request.path == "/login/oauth/access_token":
                return self._exchange(request)
            return FakeResponse.json({"message": "Not Found"}, 404)
        if request.path != "/user" and not request.path.startswith("/users/") and not self._authorized(request):
            return FakeResponse.json({"message": "Bad credentials"}, 401)
        parts = [p for p in request.path.split("/") if p]
        body = request.json() if request.body else {}
        if parts == ["user"]:
            if not self._authorized(request):
                return FakeResponse.json({"message": "Requires authentication"}, 401)
            return FakeResponse.json({"login": self.login, "id": 1, "type": "User"})
        if request.method == "POST" and parts == ["user", "repos"]:
            return FakeResponse.json(self.add_repo(f"{self.login}/{body['name']}"), 201)
        if parts == ["user", "repos"]:
            return FakeResponse.json(list(self.repos.values()))
        if len(parts) >= 3 and parts[0] == "repos":
            full = f"{parts[1]}/{parts[2]}"
            if full not in self.repos:
                return FakeResponse.json({"message": "Not Found"}, 404)
            rest = parts[3:]
            if not rest:
                return FakeResponse.json(self.repos[full])
            if rest == ["issues"]:
                if request.method == "POST":
                    if not body.get("title"):
                        return FakeResponse.json({"message": "Validation Failed"}, 422)
                    issue = {
                        "id": self._id(),
                        "number": len(self.issues[full]) + 1,
                        "state": "open",
                        "title": body["title"],
                        "body": body.get("body"),
                        "labels": body.get("labels", []),
                        "html_url": f"https://github.com/{full}/issues/{len(self.issues[full]) + 1}",
                    }
                    self.issues[full].append(issue)
                    return FakeResponse.json(issue, 201)
                return FakeResponse.json(self.issues[full])
            if len(rest) == 2 and rest[0] == "issues" and rest[1].isdigit():
                found = [i for i in self.issues[full] if i["number"] == int(rest[1])]
                if not found:
                    return FakeResponse.json({"message": "Not Found"}, 404)
                if request.method == "PATCH":
                    found[0].update(body)
                return FakeResponse.json(found[0])
            if rest == ["hooks"]:
                if request.method == "POST":
                    hook = {
                        "id": self._id(),
                        "name": "web",
                        "active": body.get("active", True),
                        "events": body.get("events", ["push"]),
                        "config": body.get("config", {}),
                    }
                    self.hooks[full].append(hook)
                    return FakeResponse.json(hook, 201)
                return FakeResponse.json(self.hooks[full])
            if len(rest) == 2 and rest[0] == "hooks" and request.method == "DELETE":
                self.hooks[full] = [h for h in self.hooks[full] if str(h["id"]) != rest[1]]
                return FakeResponse(204)
        return FakeResponse.json({"message": "Not Found", "documentation_url": "pytest-xaio github_fake"}, 404)

    def _authorized(self, request: FakeRequest) -> bool:
        auth = request.header("authorization") or ""
        token = auth.split(" ", 1)[1] if " " in auth else ""
        return bool(token) and (token in self.tokens or not self.tokens)

    def _exchange(self, request: FakeRequest) -> FakeResponse:
        if (request.header("content-type") or "").startswith("application/json"):
            params = request.json()
        else:
            params = dict(parse_qsl(request.text())) or request.query
        code = str(params.get("code", ""))
        token = self.codes.pop(code, None)
        wants_json = "json" in (request.header("accept") or "")
        if token is None or not params.get("client_id"):
            error = {"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."}
            return (
                FakeResponse.json(error)
                if wants_json
                else FakeResponse.text("error=bad_verification_code", content_type="application/x-www-form-urlencoded")
            )
        self.tokens[token] = self.login
        if wants_json:
            return FakeResponse.json({"access_token": token, "token_type": "bearer", "scope": "repo"})
        return FakeResponse.text(
            f"access_token={token}&scope=repo&token_type=bearer", content_type="application/x-www-form-urlencoded"
        )

    # --- webhooks -------------------------------------------------------------------------------------
    def webhook(
        self, event: str, payload: dict[str, Any], *, secret: str | None = None, delivery: str | None = None
    ) -> GithubWebhook:
        """A delivery of ``event`` (``push``, ``issues``...) signed with ``X-Hub-Signature-256``."""
        key = secret or (self._secret() if callable(self._secret) else self._secret)
        if not key:
            from pytest_xaio.errors import config_error

            config_error(
                "github_fake.webhook() needs the app's GitHub webhook secret, and none is configured",
                "set xaio_github_webhook_secret, or pass secret=...",
            )
        body = json.dumps(payload).encode()
        digest = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or f"{int(time.time())}-{secrets.token_hex(8)}",
            "X-Hub-Signature-256": f"sha256={digest}",
            "User-Agent": "GitHub-Hookshot/xaio",
        }
        return GithubWebhook(event, body, headers)

    def send(self, client: Any, hook: GithubWebhook, path: str = "/api/webhooks/github") -> Any:
        return client.post(path, content=hook.payload, headers=hook.headers)
