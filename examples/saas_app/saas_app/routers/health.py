from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy import text
from sqlalchemy.orm import Session

from saas_app.db import get_db

router = APIRouter(tags=["health"])


@router.get("/health")
def health(db: Annotated[Session, Depends(get_db)]) -> dict[str, Any]:
    """Liveness plus a database round trip (the load balancer's check)."""
    db.execute(text("SELECT 1"))
    return {"status": "ok", "database": "ok"}
