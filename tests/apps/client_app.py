"""A small FastAPI app the way real ones are written: SQLAlchemy from DATABASE_URL at import time,
a get_db dependency that commits, HTTPBearer + pyjwt, and a lifespan with state."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException, Request, WebSocket
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

# Read at import, as apps do: the plugin must have exported these before importing us.
DATABASE_URL = os.environ["DATABASE_URL"]
SECRET_KEY = os.environ["SECRET_KEY"]
engine = create_engine(DATABASE_URL.replace("postgresql://", "postgresql+psycopg://", 1))
SessionLocal = sessionmaker(bind=engine)
EVENTS: list[str] = []


def get_db() -> Iterator[Session]:
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


bearer = HTTPBearer(auto_error=False)
Db = Annotated[Session, Depends(get_db)]


def current_claims(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> dict[str, Any]:
    if credentials is None:
        raise HTTPException(401, "not authenticated")
    try:
        return dict(
            jwt.decode(credentials.credentials, SECRET_KEY, algorithms=["HS256"], options={"require": ["exp", "sub"]})
        )
    except jwt.PyJWTError as exc:
        raise HTTPException(401, f"invalid token: {type(exc).__name__}") from None


Claims = Annotated[dict[str, Any], Depends(current_claims)]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    EVENTS.append("startup")
    app.state.started = True
    yield {"greeting": "hello from lifespan"}
    EVENTS.append("shutdown")


app = FastAPI(lifespan=lifespan)


class ItemIn(BaseModel):
    name: str


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/lifespan")
def lifespan_state(request: Request) -> dict[str, Any]:
    return {"greeting": request.state.greeting, "started": request.app.state.started}


@app.get("/db")
def which_db(db: Db) -> dict[str, Any]:
    return {
        "database": db.execute(text("SELECT current_database()")).scalar_one(),
        "imported_with": DATABASE_URL.rsplit("/", 1)[-1],
    }


@app.get("/me")
def me(claims: Claims, db: Db) -> dict[str, Any]:
    row = None
    if claims["sub"].isdigit():
        row = (
            db.execute(text("SELECT email, plan, is_superuser FROM users WHERE id = :id"), {"id": int(claims["sub"])})
            .mappings()
            .first()
        )
    return {"sub": claims["sub"], "user": dict(row) if row else None}


@app.post("/items", status_code=201)
def create_item(item: ItemIn, claims: Claims, db: Db) -> dict[str, Any]:
    db.execute(
        text("INSERT INTO items (owner, name) VALUES (:owner, :name)"), {"owner": claims["sub"], "name": item.name}
    )
    db.commit()  # the app's own commit: must work, and still leave nothing behind
    return {"count": db.execute(text("SELECT count(*) FROM items")).scalar_one()}


@app.post("/items/rejected", status_code=201)
def create_rejected(item: ItemIn, claims: Claims, db: Db) -> None:
    db.execute(
        text("INSERT INTO items (owner, name) VALUES (:owner, :name)"), {"owner": claims["sub"], "name": item.name}
    )
    raise HTTPException(409, "rejected after the insert")  # never committed: the row must not stay


@app.get("/items")
def list_items(db: Db) -> list[str]:
    return list(db.execute(text("SELECT name FROM items ORDER BY id")).scalars())


@app.get("/boom")
def boom() -> None:
    raise RuntimeError("planted bug")


@app.get("/stream")
def stream() -> StreamingResponse:
    return StreamingResponse((f"chunk-{i};".encode() for i in range(3)), media_type="text/plain")


@app.websocket("/ws")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    while (message := await websocket.receive_text()) != "bye":
        await websocket.send_text(f"echo: {message}")
    await websocket.close()
