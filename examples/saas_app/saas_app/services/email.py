"""Transactional email through Brevo's HTTP API (``POST /v3/smtp/email``)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import httpx
from sqlalchemy.orm import Session

from saas_app.models import User
from saas_app.settings import settings

__all__ = ["BREVO_URL", "send_welcome_email"]

BREVO_URL = "https://api.brevo.com/v3/smtp/email"
log = logging.getLogger(__name__)


def send_welcome_email(db: Session, user: User) -> str | None:
    """Send the welcome template to a new user; returns Brevo's message id.

    A failed email never fails the signup: it is logged, and ``welcome_email_sent_at`` stays empty so a
    retry job can find the user.
    """
    if not settings.brevo_api_key:
        log.warning("BREVO_API_KEY is not set; welcome email to user %s not sent", user.id)
        return None
    payload = {
        "sender": {"email": settings.brevo_sender_email, "name": "SaaS App"},
        "to": [{"email": user.email, "name": user.name or user.email}],
        "templateId": settings.brevo_welcome_template_id,
        "params": {"name": user.name or "there", "plan": user.plan},
        "tags": ["welcome"],
    }
    try:
        response = httpx.post(
            BREVO_URL,
            json=payload,
            headers={"api-key": settings.brevo_api_key, "accept": "application/json"},
            timeout=10.0,
        )
        response.raise_for_status()
    except httpx.HTTPError as exc:
        log.error("welcome email to user %s failed: %s", user.id, exc)
        return None
    user.welcome_email_sent_at = datetime.now(timezone.utc)
    db.commit()
    try:
        body = response.json()
    except ValueError:
        body = None
    message_id = body.get("messageId") if isinstance(body, dict) else None
    return str(message_id) if message_id else None
