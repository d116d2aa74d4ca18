from typing import Annotated, Literal

import jwt
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.orm import Session

from sqlapp.db import get_db
from sqlapp.settings import settings

bearer = HTTPBearer(auto_error=False)


def current_user(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    db: Annotated[Session, Depends(get_db)],
) -> dict[str, object]:
    if credentials is None:
        raise HTTPException(status_code=401, detail="not authenticated")
    try:
        claims = jwt.decode(credentials.credentials, settings.jwt_secret, algorithms=["HS256"])
        user_id = int(claims["sub"])
    except (jwt.PyJWTError, KeyError, ValueError):
        raise HTTPException(status_code=401, detail="invalid token") from None
    row = db.execute(text("SELECT id, email FROM users WHERE id = :id"), {"id": user_id}).mappings().first()
    if row is None:
        raise HTTPException(status_code=401, detail="unknown user")
    return dict(row)


class WaitlistEntry(BaseModel):
    email: str
    status: Literal["pending", "approved", "rejected"] = "pending"


def create_app() -> FastAPI:
    app = FastAPI(title="sqlapp")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/me")
    def me(user: Annotated[dict[str, object], Depends(current_user)]) -> dict[str, object]:
        return user

    @app.post("/api/waitlist", status_code=201)
    def join(entry: WaitlistEntry, db: Annotated[Session, Depends(get_db)]) -> dict[str, str]:
        db.execute(text("INSERT INTO waitlist (email, status) VALUES (:email, :status)"), entry.model_dump())
        db.commit()
        return {"email": entry.email, "status": entry.status}

    return app


app = create_app()
