"""An app that verifies JWTs properly: algorithm pinned, exp required, audience and issuer checked,
HS* with the shared secret, RS*/ES* with the public key from the env or a JWKS document."""

from __future__ import annotations

import os
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer


class Settings:
    def __init__(self) -> None:
        self.secret_key = os.environ.get("SECRET_KEY", "")
        self.algorithm = os.environ.get("JWT_ALGORITHM", "HS256")
        self.public_key = os.environ.get("JWT_PUBLIC_KEY", "")
        self.audience = os.environ.get("JWT_AUDIENCE") or None
        self.issuer = os.environ.get("JWT_ISSUER") or None


settings = Settings()
JWKS: dict[str, Any] = {}  # a test hands the plugin's JWKS to the app here
bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _decode(credentials: HTTPAuthorizationCredentials | None, key: Any) -> dict[str, Any]:
    if credentials is None:
        raise HTTPException(401, "not authenticated")
    try:
        return dict(
            jwt.decode(
                credentials.credentials,
                key,
                algorithms=[settings.algorithm],
                audience=settings.audience,
                issuer=settings.issuer,
                options={"require": ["exp", "sub"]},
            )
        )
    except jwt.PyJWTError as exc:
        raise HTTPException(401, f"invalid token: {type(exc).__name__}") from None


def claims_from_key(credentials: Credentials) -> dict[str, Any]:
    key = settings.secret_key if settings.algorithm.startswith("HS") else settings.public_key
    return _decode(credentials, key)


def claims_from_jwks(credentials: Credentials) -> dict[str, Any]:
    if credentials is None:
        raise HTTPException(401, "not authenticated")
    try:
        kid = jwt.get_unverified_header(credentials.credentials).get("kid")
        key = jwt.PyJWKSet.from_dict(JWKS)[str(kid)].key
    except (jwt.PyJWTError, KeyError) as exc:
        raise HTTPException(401, f"invalid token: {type(exc).__name__}") from None
    return _decode(credentials, key)


app = FastAPI()


@app.get("/me")
def me(claims: Annotated[dict[str, Any], Depends(claims_from_key)]) -> dict[str, Any]:
    return claims


@app.get("/me-jwks")
def me_jwks(claims: Annotated[dict[str, Any], Depends(claims_from_jwks)]) -> dict[str, Any]:
    return claims
