"""A small billing app written the way SaaS backends use the official Stripe SDK.

It talks to Stripe through every HTTP client the SDK offers: the module-level API (requests),
``StripeClient`` with the requests, httpx and urllib clients, and the async httpx and aiohttp clients.
"""

from __future__ import annotations

import os
from typing import Any

import stripe
from fastapi import FastAPI, HTTPException, Request

STRIPE_API_KEY = os.environ.get("STRIPE_API_KEY", "sk_test_ext_billing")
WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_ext_billing")

processed_events: list[str] = []
subscription_status: dict[str, str] = {}

app = FastAPI()


def sync_client(kind: str) -> stripe.StripeClient:
    http: Any = {
        "requests": stripe.RequestsClient(),
        "httpx": stripe.HTTPXClient(allow_sync_methods=True),
        "urllib": stripe.UrllibClient(),
    }[kind]
    return stripe.StripeClient(STRIPE_API_KEY, http_client=http)


def async_client(kind: str) -> stripe.StripeClient:
    http: Any = {"httpx": stripe.HTTPXClient(), "aiohttp": stripe.AIOHTTPClient()}[kind]
    return stripe.StripeClient(STRIPE_API_KEY, http_client=http)


@app.post("/customers/module")
def create_customer_module(body: dict[str, Any]) -> dict[str, Any]:
    stripe.api_key = STRIPE_API_KEY
    customer = stripe.Customer.create(email=body["email"], metadata={"user": "1"})
    return {"id": customer.id, "email": stripe.Customer.retrieve(customer.id).email}


@app.post("/customers/sync/{kind}")
def create_customer_sync(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    client = sync_client(kind)
    customer = client.v1.customers.create(params={"email": body["email"]})
    return {"id": customer.id, "email": client.v1.customers.retrieve(customer.id).email}


@app.post("/customers/async/{kind}")
async def create_customer_async(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    client = async_client(kind)
    customer = await client.v1.customers.create_async(params={"email": body["email"]})
    found = await client.v1.customers.retrieve_async(customer.id)
    if kind == "aiohttp":
        await client._requestor._client.close_async()  # type: ignore[union-attr]
    return {"id": customer.id, "email": found.email}


@app.get("/customers/{customer_id}")
def get_customer(customer_id: str) -> dict[str, Any]:
    try:
        return {"email": sync_client("requests").v1.customers.retrieve(customer_id).email}
    except stripe.InvalidRequestError as exc:
        raise HTTPException(404, {"code": exc.code, "kind": type(exc).__name__}) from exc


@app.post("/pay")
def pay(body: dict[str, Any]) -> dict[str, Any]:
    client = sync_client("requests")
    try:
        intent = client.v1.payment_intents.create(
            params={
                "amount": body["amount"],
                "currency": "eur",
                "payment_method": body.get("pm", "pm_card_visa"),
                "confirm": True,
            },
            options={"idempotency_key": body["order"]} if "order" in body else {},
        )
    except stripe.CardError as exc:
        raise HTTPException(402, {"code": exc.code, "kind": type(exc).__name__}) from exc
    except stripe.IdempotencyError as exc:
        raise HTTPException(409, {"kind": type(exc).__name__}) from exc
    except stripe.InvalidRequestError as exc:
        raise HTTPException(400, {"code": exc.code, "param": exc.param, "kind": type(exc).__name__}) from exc
    return {"id": intent.id, "status": intent.status}


@app.post("/subscribe")
def subscribe(body: dict[str, Any]) -> dict[str, Any]:
    client = sync_client("httpx")
    customer = client.v1.customers.create(params={"email": body["email"]})
    product = client.v1.products.create(params={"name": "Pro"})
    price = client.v1.prices.create(
        params={"product": product.id, "unit_amount": 1500, "currency": "eur", "recurring": {"interval": "month"}}
    )
    sub = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": price.id}]})
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": customer.id,
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "https://app.example/ok",
        }
    )
    return {
        "subscription": sub.id,
        "status": sub.status,
        "checkout_url": session.url,
        "amount": sub["items"]["data"][0]["price"]["unit_amount"],
    }


@app.post("/subscriptions/{sub_id}/cancel")
def cancel(sub_id: str) -> dict[str, Any]:
    client = sync_client("requests")
    client.v1.subscriptions.update(sub_id, params={"cancel_at_period_end": True})
    return {"status": client.v1.subscriptions.cancel(sub_id).status}


@app.post("/refund/{intent_id}")
def refund(intent_id: str) -> dict[str, Any]:
    result = sync_client("urllib").v1.refunds.create(params={"payment_intent": intent_id})
    return {"id": result.id, "amount": result.amount}


@app.post("/api/webhooks/stripe")
async def stripe_webhook(request: Request) -> dict[str, Any]:
    payload = await request.body()
    try:
        event = stripe.Webhook.construct_event(payload, request.headers.get("stripe-signature", ""), WEBHOOK_SECRET)
    except (ValueError, stripe.SignatureVerificationError) as exc:
        raise HTTPException(400, "bad signature") from exc
    if event.id in processed_events:
        return {"received": True, "duplicate": True}
    processed_events.append(event.id)
    if event.type == "payment_intent.succeeded":
        customer = event.data.object["customer"]
        subscription_status[customer] = "active"
    return {"received": True, "duplicate": False}
