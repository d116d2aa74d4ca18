from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from saas_app.auth import CurrentUser
from saas_app.db import get_db
from saas_app.models import WaitlistEntry
from saas_app.schemas import WaitlistIn, WaitlistOut

router = APIRouter(prefix="/api/waitlist", tags=["waitlist"])
DB = Annotated[Session, Depends(get_db)]


def _already_listed() -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, detail="This email is already on the waitlist")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WaitlistOut)
def join_waitlist(body: WaitlistIn, user: CurrentUser, db: DB) -> WaitlistEntry:
    """Sign an address up for the beta (one entry per address, whoever submits it)."""
    # lower() on both sides, in SQL: the same folding as the unique index on lower(email).
    exists = db.scalar(select(WaitlistEntry.id).where(func.lower(WaitlistEntry.email) == func.lower(body.email)))
    if exists is not None:
        raise _already_listed()
    entry = WaitlistEntry(email=body.email, name=body.name, user_id=user.id, status="pending")
    db.add(entry)
    try:
        db.commit()
    except IntegrityError:  # the same address, submitted concurrently
        db.rollback()
        raise _already_listed()
    db.refresh(entry)
    return entry


@router.get("", response_model=list[WaitlistOut])
def list_waitlist(user: CurrentUser, db: DB) -> list[WaitlistEntry]:
    """Superusers see the whole waitlist; everyone else the entries they submitted."""
    query = select(WaitlistEntry).order_by(WaitlistEntry.id)
    if not user.is_superuser:
        query = query.where(WaitlistEntry.user_id == user.id)
    return list(db.scalars(query))
