"""Who is calling: a Bearer JWT whose ``sub`` is the user's id."""

from __future__ import annotations

from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from saas_app.db import get_db
from saas_app.models import User
from saas_app.security import decode_access_token
from saas_app.settings import settings

__all__ = ["CurrentUser", "bearer", "get_current_user"]

# auto_error=False: a missing header must be a 401 with a challenge, like a bad token, not a 403.
bearer = HTTPBearer(auto_error=False)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def get_current_user(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    db: Annotated[Session, Depends(get_db)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise _unauthorized("Not authenticated")
    try:
        claims = decode_access_token(credentials.credentials, settings.secret_key, algorithm=settings.jwt_algorithm)
    except jwt.ExpiredSignatureError:
        raise _unauthorized("Token expired")
    except jwt.InvalidTokenError:
        raise _unauthorized("Invalid token")
    try:
        user_id = int(str(claims["sub"]))
    except ValueError:
        raise _unauthorized("Invalid token subject")
    if not 0 < user_id < 2**63:
        raise _unauthorized("Invalid token subject")
    user = db.get(User, user_id)
    if user is None or not user.is_active:
        raise _unauthorized("Unknown or inactive user")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
