"""Password hashing (PBKDF2 from the standard library) and access tokens (pyjwt, HS256)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt

__all__ = ["create_access_token", "decode_access_token", "hash_password", "verify_password"]

_ITERATIONS = 120_000


def hash_password(password: str, *, iterations: int = _ITERATIONS) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return "$".join(
        ["pbkdf2_sha256", str(iterations), base64.b64encode(salt).decode(), base64.b64encode(digest).decode()]
    )


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        scheme, iterations, salt, digest = stored.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def create_access_token(user_id: int, secret: str, *, minutes: int = 60, algorithm: str = "HS256") -> str:
    now = datetime.now(timezone.utc)
    claims = {"sub": str(user_id), "iat": now, "nbf": now, "exp": now + timedelta(minutes=minutes)}
    return jwt.encode(claims, secret, algorithm=algorithm)


def decode_access_token(token: str, secret: str, *, algorithm: str = "HS256") -> dict[str, Any]:
    """The token's claims; raises ``jwt.InvalidTokenError`` for anything not signed by us and current."""
    return jwt.decode(token, secret, algorithms=[algorithm], options={"require": ["exp", "sub"]})
