"""The Brevo (ex-Sendinblue) fake: transactional email into an outbox, and contacts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from pytest_xaio.externals.http import FakeRequest, FakeResponse

__all__ = ["BREVO_HOSTS", "BrevoFake", "SentEmail"]

BREVO_HOSTS = ("api.brevo.com", "api.sendinblue.com")


@dataclass
class SentEmail:
    """One email the app sent: ``to`` holds the addresses, ``payload`` the whole request body."""

    to: list[str]
    template_id: int | None
    params: dict[str, Any]
    subject: str | None
    sender: str | None
    message_id: str
    payload: dict[str, Any] = field(default_factory=dict)


class BrevoFake:
    """Answers ``api.brevo.com/v3``: ``POST /smtp/email`` lands in :attr:`outbox`; contacts are kept
    in :attr:`contacts` (by email); :meth:`fail_next` makes the next call fail."""

    def __init__(self) -> None:
        self.outbox: list[SentEmail] = []
        self.contacts: dict[str, dict[str, Any]] = {}
        self.requests: list[FakeRequest] = []
        self._failures: list[tuple[int, str, str]] = []

    def fail_next(
        self,
        status: int = 400,
        code: str = "invalid_parameter",
        message: str = "The request failed (pytest-xaio brevo_fake.fail_next)",
    ) -> None:
        self._failures.append((status, code, message))

    def emails_to(self, address: str) -> list[SentEmail]:
        return [m for m in self.outbox if address.lower() in (t.lower() for t in m.to)]

    def handle(self, request: FakeRequest) -> FakeResponse:
        self.requests.append(request)
        if not request.header("api-key"):
            return _error(401, "unauthorized", "Key not found")
        if self._failures:
            return _error(*self._failures.pop(0))
        path = request.path.removeprefix("/v3")
        body = request.json() if request.body else {}
        if request.method == "POST" and path == "/smtp/email":
            return self._send(body)
        if request.method == "POST" and path == "/contacts":
            email = str(body.get("email", "")).lower()
            if not email:
                return _error(400, "missing_parameter", "email is missing")
            if email in self.contacts and not body.get("updateEnabled"):
                return _error(400, "duplicate_parameter", "Contact already exist")
            contact = {"id": len(self.contacts) + 1, **self.contacts.get(email, {}), **body, "email": email}
            self.contacts[email] = contact
            return FakeResponse.json({"id": contact["id"]}, 201)
        if path.startswith("/contacts/"):
            email = path.split("/", 2)[2].lower().replace("%40", "@")
            if email not in self.contacts:
                return _error(404, "document_not_found", "Contact does not exist")
            if request.method == "GET":
                return FakeResponse.json(self.contacts[email])
            if request.method == "PUT":
                self.contacts[email].update(body)
                return FakeResponse(204)
            if request.method == "DELETE":
                del self.contacts[email]
                return FakeResponse(204)
        return _error(404, "not_found", f"pytest-xaio brevo_fake has no route for {request.method} {path}")

    def _send(self, body: dict[str, Any]) -> FakeResponse:
        recipients = list(body.get("to") or [])
        for version in body.get("messageVersions") or []:
            recipients += version.get("to") or []
        if not recipients:
            return _error(400, "missing_parameter", "to is missing")
        if not body.get("templateId") and not (body.get("htmlContent") or body.get("textContent")):
            return _error(400, "missing_parameter", "htmlContent, textContent or templateId is missing")
        message_id = f"<{secrets.token_hex(12)}@smtp-relay.mailin.fr>"
        sender = body.get("sender") or {}
        self.outbox.append(
            SentEmail(
                to=[str(r.get("email") if isinstance(r, dict) else r) for r in recipients],
                template_id=int(body["templateId"]) if body.get("templateId") is not None else None,
                params=dict(body.get("params") or {}),
                subject=body.get("subject"),
                sender=sender.get("email") if isinstance(sender, dict) else None,
                message_id=message_id,
                payload=body,
            )
        )
        return FakeResponse.json({"messageId": message_id}, 201)


def _error(status: int, code: str, message: str) -> FakeResponse:
    return FakeResponse.json({"code": code, "message": message}, status)
