"""An async SQLAlchemy app the way they are written: asyncpg, a module-level ``create_async_engine``
with the default pool, ``async_sessionmaker``, ``async def get_session()`` yielding ``AsyncSession``,
routes that commit, ``session.begin()`` and ``begin_nested()``, and a lifespan that uses the pool."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

DATABASE_URL = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+asyncpg://", 1)
SECRET_KEY = os.environ["SECRET_KEY"]
engine = create_async_engine(DATABASE_URL)  # the default pool: connections stay bound to their loop
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)
LOOPS: list[int] = []


async def get_session() -> AsyncIterator[AsyncSession]:
    async with SessionLocal() as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session)]
bearer = HTTPBearer(auto_error=False)


async def current_user(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)], session: Session
) -> dict[str, Any]:
    if credentials is None:
        raise HTTPException(401, "not authenticated")
    try:
        claims = jwt.decode(credentials.credentials, SECRET_KEY, algorithms=["HS256"], options={"require": ["sub"]})
    except jwt.PyJWTError:
        raise HTTPException(401, "invalid token") from None
    row = (
        (await session.execute(text("SELECT id, email FROM users WHERE id = :id"), {"id": int(claims["sub"])}))
        .mappings()
        .first()
    )
    if row is None:
        raise HTTPException(401, "user removed")
    return dict(row)


User = Annotated[dict[str, Any], Depends(current_user)]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    import asyncio

    LOOPS.append(id(asyncio.get_running_loop()))
    async with engine.connect() as conn:  # leaves a pooled connection bound to this loop
        await conn.execute(text("SELECT 1"))
    yield


app = FastAPI(lifespan=lifespan)


class ItemIn(BaseModel):
    name: str


@app.get("/health")
async def health() -> dict[str, str]:
    async with engine.connect() as conn:  # the module-level pool, on whatever loop runs the app
        await conn.execute(text("SELECT 1"))
    return {"status": "ok"}


@app.post("/items", status_code=201)
async def create_item(item: ItemIn, user: User, session: Session) -> dict[str, Any]:
    try:
        await session.execute(
            text("INSERT INTO items (owner, name) VALUES (:owner, :name)"),
            {"owner": str(user["id"]), "name": item.name},
        )
        await session.commit()
    except IntegrityError:
        raise HTTPException(409, "name taken") from None
    count = (await session.execute(text("SELECT count(*) FROM items"))).scalar_one()
    return {"count": count}


@app.post("/items/batch", status_code=201)
async def create_batch(names: list[str], session: Session) -> dict[str, Any]:
    """begin() around the batch; each name in begin_nested(), a duplicate only undoes its own savepoint."""
    kept = []
    async with session.begin():
        for name in names:
            try:
                async with session.begin_nested():
                    await session.execute(
                        text("INSERT INTO items (owner, name) VALUES (:owner, :name)"),
                        {"owner": "batch", "name": name},
                    )
                kept.append(name)
            except IntegrityError:
                pass
    return {"kept": kept}


@app.get("/items")
async def list_items(session: Session) -> list[str]:
    return list((await session.execute(text("SELECT name FROM items ORDER BY id"))).scalars())


@app.get("/items/{item_id}")
async def get_item(item_id: int, user: User, session: Session) -> dict[str, Any]:
    query = text("SELECT id, name FROM items WHERE id = :id AND owner = :owner")
    row = (await session.execute(query, {"id": item_id, "owner": str(user["id"])})).mappings().first()
    if row is None:
        raise HTTPException(404, "no such item")
    return dict(row)
