from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from saas_app.auth import CurrentUser
from saas_app.db import get_db
from saas_app.models import User
from saas_app.schemas import LoginIn, RegisterIn, TokenOut, UserOut
from saas_app.security import create_access_token, hash_password, verify_password
from saas_app.services.email import send_welcome_email
from saas_app.settings import settings

router = APIRouter(tags=["auth"])


def _email_taken() -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, detail="An account with this email already exists")


def _find_by_email(db: Session, email: str) -> User | None:
    # lower() on both sides, in SQL: the same folding as the unique index on lower(email).
    return db.scalar(select(User).where(func.lower(User.email) == func.lower(email)))


@router.post("/api/auth/register", status_code=status.HTTP_201_CREATED, response_model=UserOut)
def register(body: RegisterIn, db: Annotated[Session, Depends(get_db)]) -> User:
    if _find_by_email(db, body.email) is not None:
        raise _email_taken()
    user = User(email=body.email, name=body.name, password_hash=hash_password(body.password), plan="free")
    db.add(user)
    try:
        db.commit()
    except IntegrityError:  # the same address, registered concurrently
        db.rollback()
        raise _email_taken()
    db.refresh(user)
    send_welcome_email(db, user)
    return user


@router.post("/api/auth/login", response_model=TokenOut)
def login(body: LoginIn, db: Annotated[Session, Depends(get_db)]) -> TokenOut:
    user = _find_by_email(db, body.email)
    if user is None or not user.is_active or not verify_password(body.password, user.password_hash):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail="Incorrect email or password", headers={"WWW-Authenticate": "Bearer"}
        )
    user.last_login_at = datetime.now(timezone.utc)
    db.commit()
    token = create_access_token(
        user.id, settings.secret_key, minutes=settings.access_token_minutes, algorithm=settings.jwt_algorithm
    )
    return TokenOut(access_token=token)


@router.get("/api/me", response_model=UserOut)
def me(user: CurrentUser) -> User:
    return user
