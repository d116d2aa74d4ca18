from __future__ import annotations

from typing import Annotated, Any

import stripe
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from saas_app.auth import CurrentUser
from saas_app.db import get_db
from saas_app.schemas import CheckoutIn, CheckoutOut
from saas_app.services import billing

router = APIRouter(tags=["billing"])
DB = Annotated[Session, Depends(get_db)]


@router.post("/api/billing/checkout", response_model=CheckoutOut)
def checkout(body: CheckoutIn, user: CurrentUser, db: DB) -> CheckoutOut:
    try:
        session = billing.create_checkout_session(db, user, body.plan.value)
    except stripe.StripeError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail=f"Payment provider error: {exc.user_message or exc}")
    return CheckoutOut(session_id=session.id, url=session.url)


@router.post("/api/webhooks/stripe")
async def stripe_webhook(request: Request, db: DB) -> dict[str, Any]:
    payload = await request.body()
    try:
        event = billing.verify_webhook(payload, request.headers.get("stripe-signature"))
    except billing.InvalidWebhook as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc))
    # The signature needs the raw body (hence async); the database work is blocking, so off the loop.
    processed = await run_in_threadpool(billing.handle_event, db, event)
    return {"received": True, "duplicate": not processed}
