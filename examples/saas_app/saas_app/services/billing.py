"""Stripe: customers, subscription checkout, and the webhook events that change a user's plan."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

import stripe
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from saas_app.models import StripeEvent, User
from saas_app.settings import settings

__all__ = [
    "PLAN_PRICES",
    "InvalidWebhook",
    "create_checkout_session",
    "ensure_customer",
    "handle_event",
    "verify_webhook",
]

log = logging.getLogger(__name__)

# Monthly price in cents per paid plan; the checkout creates the price inline (no dashboard setup).
PLAN_PRICES: dict[str, int] = {"pro": 1900, "team": 4900}
_BIGINT_MAX = 2**63 - 1


class InvalidWebhook(Exception):
    """The payload is not JSON or its signature does not match our webhook secret."""


def _configure() -> None:
    stripe.api_key = settings.stripe_api_key


def ensure_customer(db: Session, user: User) -> str:
    """The user's Stripe customer id, creating the customer on first checkout."""
    if user.stripe_customer_id:
        return user.stripe_customer_id
    _configure()
    customer = stripe.Customer.create(
        email=user.email,
        name=user.name or None,
        metadata={"user_id": str(user.id)},
    )
    user.stripe_customer_id = customer.id
    db.commit()
    return customer.id


def create_checkout_session(db: Session, user: User, plan: str) -> Any:
    """A hosted Checkout session subscribing the user to ``plan``."""
    customer_id = ensure_customer(db, user)
    _configure()
    metadata = {"user_id": str(user.id), "plan": plan}
    return stripe.checkout.Session.create(
        mode="subscription",
        customer=customer_id,
        client_reference_id=str(user.id),
        line_items=[
            {
                "quantity": 1,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": PLAN_PRICES[plan],
                    "recurring": {"interval": "month"},
                    "product_data": {"name": f"SaaS App {plan.title()}"},
                },
            }
        ],
        metadata=metadata,
        subscription_data={"metadata": metadata},
        success_url=f"{settings.public_url}/billing/success?session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{settings.public_url}/billing/cancelled",
    )


def verify_webhook(payload: bytes, signature: str | None) -> dict[str, Any]:
    """Check the ``Stripe-Signature`` header and return the event as plain JSON."""
    if not signature or not settings.stripe_webhook_secret:
        raise InvalidWebhook("missing signature")
    try:
        stripe.Webhook.construct_event(payload, signature, settings.stripe_webhook_secret)
    except stripe.SignatureVerificationError as exc:
        raise InvalidWebhook(f"bad signature: {exc}") from exc
    except ValueError as exc:
        raise InvalidWebhook("payload is not valid JSON") from exc
    # Verified: read it as plain JSON, which behaves the same across stripe SDK versions.
    event = json.loads(payload)
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not event.get("type"):
        raise InvalidWebhook("not a Stripe event")
    return event


def _user_for(db: Session, obj: dict[str, Any]) -> User | None:
    metadata = obj.get("metadata") or {}
    raw_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    if raw_id is None:
        raw_id = obj.get("client_reference_id")
    if raw_id is not None:
        try:
            user_id = int(str(raw_id))
        except ValueError:
            user_id = 0
        if 0 < user_id <= _BIGINT_MAX:
            user = db.get(User, user_id)
            if user is not None:
                return user
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    if isinstance(customer, str) and customer:
        return db.scalar(select(User).where(User.stripe_customer_id == customer))
    return None


def handle_event(db: Session, event: dict[str, Any]) -> bool:
    """Apply a verified event once; False when this event id was already processed (a redelivery)."""
    inserted = db.scalar(
        insert(StripeEvent)
        .values(id=event["id"], type=str(event["type"]), payload=event)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(StripeEvent.id)
    )
    if inserted is None:
        return False
    data = event.get("data") or {}
    obj = data.get("object") if isinstance(data, dict) else None
    if isinstance(obj, dict):
        _apply(db, str(event["type"]), obj)
    db.execute(
        StripeEvent.__table__.update()
        .where(StripeEvent.id == event["id"])
        .values(processed_at=datetime.now(timezone.utc))
    )
    db.commit()
    return True


def _apply(db: Session, kind: str, obj: dict[str, Any]) -> None:
    user = _user_for(db, obj)
    if user is None:
        if kind.startswith(("payment_intent.", "checkout.session.", "customer.subscription.", "invoice.")):
            log.warning("stripe %s for unknown user (object %s)", kind, obj.get("id"))
        return
    customer = obj.get("customer")
    if isinstance(customer, str) and customer and not user.stripe_customer_id:
        owner = db.scalar(select(User.id).where(User.stripe_customer_id == customer))
        if owner is None:
            user.stripe_customer_id = customer
    if kind in ("payment_intent.succeeded", "invoice.paid"):
        user.subscription_status = "active"
    elif kind == "checkout.session.completed":
        metadata = obj.get("metadata") or {}
        plan = metadata.get("plan") if isinstance(metadata, dict) else None
        if plan in PLAN_PRICES:
            user.plan = plan
        if isinstance(obj.get("subscription"), str):
            user.stripe_subscription_id = obj["subscription"]
    elif kind == "invoice.payment_failed":
        user.subscription_status = "past_due"
    elif kind == "customer.subscription.deleted":
        user.subscription_status = "canceled"
        user.plan = "free"
        user.stripe_subscription_id = None
